import { describe, expect, it } from "vitest";
import { allowRebootFromEnv } from "../../cli/commands/agent.ts";
import { scheduling } from "../../shared/domain/device.ts";
import type { Reservation } from "../../shared/domain/reservation.ts";
import { operationState } from "../../shared/usecases/identity/operations.ts";
import { registerAgent } from "../helpers/agents.ts";
import { testApp } from "../helpers/app.ts";

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

describe("reboot requests", () => {
  it("refuses a second reboot while one is under way (it would reboot the machine twice)", async () => {
    const t = await testApp();
    const agent = await registerAgent(t);
    const reboot = () =>
      t.call("POST", `/api/v1/devices/${agent.deviceId}/reboot`, { token: t.admin, body: {} });
    const first = await reboot();
    expect(first.status).toBe(202);
    const second = await reboot();
    expect(second.status).toBe(409);
    expect(((await second.json()) as { error: { message: string } }).error.message).toContain(
      ((await first.json()) as { id: string }).id,
    );
    const ops = await t.call("GET", `/api/v1/devices/${agent.deviceId}/operations`, { token: t.admin });
    expect(((await ops.json()) as { items: unknown[] }).items).toHaveLength(1);
  });

  it("reads BERTH_AGENT_ALLOW_REBOOT as on only for true, 1 or yes", () => {
    expect(allowRebootFromEnv(undefined)).toBe(false);
    expect(allowRebootFromEnv("")).toBe(false);
    expect(allowRebootFromEnv("false")).toBe(false);
    expect(allowRebootFromEnv("0")).toBe(false);
    expect(allowRebootFromEnv("TRUE")).toBe(true);
    expect(allowRebootFromEnv("1")).toBe(true);
    expect(() => allowRebootFromEnv("maybe")).toThrow(/expected true or false/);
  });

  it("lets a drain end with applications' GPUs still held (a DaemonSet's pods stay)", () => {
    const drain = { startedAt: "2026-12-02T00:00:00.000Z", deadline: "2026-12-02T01:00:00.000Z" };
    expect(scheduling({ drain, heldJobs: 0, gpuOwners: { "0": "app:a1" } })).toBe("cordoned");
    expect(scheduling({ drain, heldJobs: 0, gpuOwners: { "0": "job1" } })).toBe("draining");
  });
});
