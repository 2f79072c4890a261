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

  it("carries secrets: --secret name:VARIABLE and --secret-file name:path", () => {
    expect(
      runRequest(["python", "x.py"], { secret: ["hf:HF_TOKEN"], secretFile: ["db:conf/db.json"] }),
    ).toMatchObject({
      secrets: [
        { name: "hf", env: "HF_TOKEN" },
        { name: "db", path: "conf/db.json" },
      ],
    });
    expect(runRequest(["true"], {}).secrets).toEqual([]);
  });

  it.each([
    [{ secret: ["hf"] }, "--secret hf: write secret:VARIABLE (e.g. hf:HF_TOKEN)"],
    [{ secretFile: ["db:"] }, "--secret-file db:: write secret:path (e.g. db:db.json)"],
    [{ cpus: "many" }, "--cpus must be a positive number"],
    [{ memory: "-1" }, "--memory must be a positive number"],
    [{ lostAfter: "soon" }, '--lost-after: "soon" is not a duration'],
  ])("refuses %o with a usage error", (o, message) => {
    expect(() => runRequest(["true"], o)).toThrow(message);
  });
});
