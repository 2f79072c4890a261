import { describe, expect, it } from "vitest";
import { afterExit, restartBackoffMs } from "../../agent/runtimes/apps.ts";

/** Docker's restart policies, as the agent applies them to an application's programs. */
describe("restart policies of process applications", () => {
  it("starts a program again as Docker would, and says how it ended otherwise", () => {
    expect(afterExit({ name: "always" }, 0, 50)).toBe("restart");
    expect(afterExit({ name: "unless-stopped" }, 3, 0)).toBe("restart");
    expect(afterExit({ name: "on-failure" }, 3, 100)).toBe("restart");
    expect(afterExit({ name: "on-failure" }, 0, 0)).toBe("exited");
    expect(afterExit({ name: "on-failure", maximumRetryCount: 2 }, 1, 1)).toBe("restart");
    expect(afterExit({ name: "on-failure", maximumRetryCount: 2 }, 1, 2)).toBe("failed");
    expect(afterExit({ name: "no" }, 0, 0)).toBe("exited");
    expect(afterExit({ name: "no" }, 137, 0)).toBe("failed");
  });

  it("backs off 1 s, 2 s, 4 s ... and never more than a minute", () => {
    expect([0, 1, 2, 3, 10].map(restartBackoffMs)).toEqual([1000, 2000, 4000, 8000, 60_000]);
  });
});
