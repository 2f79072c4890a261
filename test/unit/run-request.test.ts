import { describe, expect, it } from "vitest";
import { runRequest } from "../../cli/commands/run.ts";

describe("berth run's job body", () => {
  it("carries CPUs, memory and the disconnect policy", () => {
    expect(
      runRequest(["python", "train.py"], { cpus: "8", memory: "32", lostAfter: "30m", replaceIfLost: true }),
    ).toMatchObject({
      exe: "python",
      args: ["train.py"],
      cpus: 8,
      memoryGiB: 32,
      disconnect: { lostAfterSeconds: 1800, replace: true },
    });
    expect(runRequest(["true"], {})).not.toHaveProperty("disconnect");
  });

  it.each([
    [{ cpus: "many" }, "--cpus must be a positive number"],
    [{ memory: "-1" }, "--memory must be a positive number"],
    [{ lostAfter: "soon" }, '--lost-after: "soon" is not a duration'],
  ])("refuses %o with a usage error", (o, message) => {
    expect(() => runRequest(["true"], o)).toThrow(message);
  });
});
