import { describe, expect, it } from "vitest";
import { jsonLogger, textLogger } from "../../shared/adapters/logger.ts";

describe("loggers", () => {
  it("writes lines a person reads on a terminal: time, level, message, then key=value", () => {
    const lines: string[] = [];
    const log = textLogger("info", (l) => lines.push(l));
    log.debug("not shown");
    log.warn("lost the control plane", {
      error: "connect ECONNREFUSED",
      retryInMs: 800,
      endpoint: "http://a:1",
    });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^\d\d:\d\d:\d\d warn {2}lost the control plane {2}error="connect ECONNREFUSED" retryInMs=800 endpoint=http:\/\/a:1$/,
    );
  });

  it("writes one JSON object per line for machines, with the same fields", () => {
    const lines: string[] = [];
    jsonLogger("debug", (l) => lines.push(l)).info("registered", { machineId: "m1" });
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: "info", msg: "registered", machineId: "m1" });
  });
});
