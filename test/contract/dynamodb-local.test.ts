import { describe, it } from "vitest";
import { hasJava } from "../helpers/engines.ts";
import { repositoryContract } from "./repositories.contract.ts";

// DynamoDB Local needs Java. Without it the suite is reported as skipped, with the reason, except in
// CI, where a missing Java is a failure: the contract must run against AWS's own engine there.
if (hasJava()) {
  repositoryContract("dynamodb-local");
} else if (process.env.CI === "true") {
  describe("repositories on dynamodb-local", () => {
    it("needs Java in CI (.ci/run installs default-jre-headless)", () => {
      throw new Error("java is not on the PATH: the DynamoDB Local contract suite cannot run");
    });
  });
} else {
  console.warn("[contract] java not found: skipping the DynamoDB Local leg (install a JRE to run it)");
  describe.skip("repositories on dynamodb-local (skipped: java not found)", () => {
    it("runs when java is on the PATH", () => {});
  });
}
