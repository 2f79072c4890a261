import { describe, expect, it } from "vitest";
import type { Reservation } from "../../shared/domain/reservation.ts";
import { operationState } from "../../shared/usecases/identity/operations.ts";

const op = (extra: Partial<Reservation> = {}): Reservation => ({
  id: "op1",
  nodeId: "d1",
  workspaceId: "default",
  user: "admin",
  type: "operation",
  data: JSON.stringify({ action: "reboot", reason: "" }),
  created: "2026-12-02T00:00:00.000Z",
  duration: 600,
  signature: "s",
  state: "pending",
  version: 1,
  seq: 1,
  expiresAt: "2026-12-02T00:10:00.000Z",
  updatedAt: "2026-12-02T00:00:00.000Z",
  ...extra,
});
const result = (state: "ok" | "error", error = "") => ({
  state,
  error,
  data: "{}",
  created: "2026-12-02T00:01:00.000Z",
  signature: "s",
  receivedAt: "2026-12-02T00:01:00.000Z",
});

describe("a device operation's state, from its reservation (applications.md §8)", () => {
  const during = new Date("2026-12-02T00:05:00.000Z");
  const after = new Date("2026-12-02T00:11:00.000Z");
  it("moves pending → delivered → started → done, or rejected / failed by the agent's word", () => {
    expect(operationState(op(), during)).toBe("pending");
    expect(operationState(op({ state: "delivered" }), during)).toBe("delivered");
    expect(operationState(op({ state: "delivered", startedAt: during.toISOString() }), during)).toBe(
      "started",
    );
    expect(operationState(op({ state: "ok", result: result("ok") }), during)).toBe("done");
    expect(operationState(op({ state: "error", result: result("error", "rejected: no") }), during)).toBe(
      "rejected",
    );
    expect(operationState(op({ state: "error", result: result("error", "failed: exit 1") }), during)).toBe(
      "failed",
    );
  });
  it("expires unstarted once its ten minutes are over (a device back late does not reboot)", () => {
    expect(operationState(op(), after)).toBe("expired");
    expect(operationState(op({ state: "delivered" }), after)).toBe("expired");
    expect(operationState(op({ state: "expired" }), during)).toBe("expired");
    // Started in time: it goes on to its end, whenever that comes.
    expect(operationState(op({ state: "delivered", startedAt: during.toISOString() }), after)).toBe(
      "started",
    );
  });
});
