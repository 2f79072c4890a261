import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { AGENT_VERSION } from "../../agent/agent.ts";
import { AppConfig } from "../../shared/config.ts";
import { BERTH_VERSION } from "../../shared/version.ts";

describe("version", () => {
  it("is package.json's, and is what the server and the agent report", () => {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
    expect(BERTH_VERSION).toBe(pkg.version);
    expect(AppConfig.parse({}).version).toBe(pkg.version);
    expect(AGENT_VERSION).toBe(pkg.version);
  });
});
