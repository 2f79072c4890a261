import { beforeAll, describe, expect, it } from "vitest";
import { registerAgent } from "../helpers/agents.ts";
import { errorOf, type TestApp, testApp } from "../helpers/app.ts";
import { countRequests } from "../helpers/db.ts";
import { until } from "../helpers/wait.ts";

const OPERATOR = "op_".padEnd(40, "x");

interface WorkspaceView {
  scope: "workspace";
  workspaceId: string;
  storage: { requests: Record<string, number>; total: number };
  polls: { waiting: number };
  placement: { conflicts: number };
}

describe("GET /api/v1/metrics", () => {
  let t: TestApp;
  let other: string;
  beforeAll(async () => {
    t = await testApp({ config: { operatorTokenHash: OPERATOR } });
    other = await t.workspace("metrics-other");
  });
  const metrics = async (token: string) => {
    const res = await t.call("GET", "/api/v1/metrics", { token });
    expect(res.status).toBe(200);
    return (await res.json()) as Record<string, unknown>;
  };

  it("shows a workspace admin that workspace's counters and nothing of the process or other tenants", async () => {
    const before = (await metrics(t.admin)) as unknown as WorkspaceView;
    expect(before).toMatchObject({ scope: "workspace", workspaceId: "default" });
    expect(before).not.toHaveProperty("process");
    expect(before.storage).not.toHaveProperty("engine");
    // Another tenant's traffic does not show in this one's counters.
    for (let i = 0; i < 5; i++) await t.call("GET", "/api/v1/api-keys", { token: other });
    const otherView = (await metrics(other)) as unknown as WorkspaceView;
    expect(otherView.workspaceId).toBe("metrics-other");
    expect(otherView.storage.total).toBeGreaterThan(0);
    const after = (await metrics(t.admin)) as unknown as WorkspaceView;
    expect(after.storage).toEqual(before.storage);
    // Its own requests do count.
    await t.call("GET", "/api/v1/api-keys", { token: t.admin });
    const mine = (await metrics(t.admin)) as unknown as WorkspaceView;
    expect(mine.storage.total).toBeGreaterThan(after.storage.total);
  });

  it("counts waiting polls per workspace", async () => {
    const agent = await registerAgent(t, { admin: other });
    const booted = await agent.poll(0);
    const waiting = agent.poll(booted.next, 20);
    await until(async () => ((await metrics(other)) as unknown as WorkspaceView).polls.waiting === 1);
    expect(((await metrics(t.admin)) as unknown as WorkspaceView).polls.waiting).toBe(0);
    expect((await metrics(OPERATOR)).polls).toEqual({ waiting: 1 });
    // Wake it with a reservation for it, so the test does not wait out the poll.
    await t.call("POST", "/api/v1/reservations", {
      token: other,
      body: { nodeId: agent.deviceId, type: "debug", data: {}, duration: 60 },
    });
    expect((await waiting).reservations).toHaveLength(1);
    expect(((await metrics(other)) as unknown as WorkspaceView).polls.waiting).toBe(0);
  });

  it("shows the operator token the whole process: engine, every request, memory", async () => {
    const view = await metrics(OPERATOR);
    expect(view).toMatchObject({ scope: "process", storage: { engine: "sqlite" } });
    const storage = view.storage as { requests: Record<string, number>; total: number };
    expect(storage.requests.get).toBeGreaterThan(0);
    expect(storage.total).toBeGreaterThanOrEqual(storage.requests.get!);
    expect(view.process).toMatchObject({ rssBytes: expect.any(Number) });
  });

  it("counts what waiting costs: storage requests per agent-minute, authentication and presence included", async () => {
    const short = await testApp({
      config: { operatorTokenHash: OPERATOR, pollMode: "short", shortPollSeconds: 15 },
    });
    const agent = await registerAgent(short);
    const { next } = await agent.poll(0);
    const view = async (token: string) => {
      const res = await short.call("GET", "/api/v1/metrics", { token });
      return ((await res.json()) as { agents: Record<string, number | null> }).agents;
    };
    const before = await view(OPERATOR);
    const counter = countRequests(short.db);
    // Four empty short polls: each covers the 15 s the agent is told to wait before the next one.
    for (let i = 0; i < 4; i++) expect((await agent.poll(next)).pollAfterSeconds).toBe(15);
    const storage = counter.total();
    expect(storage).toBeGreaterThan(0);
    const after = await view(OPERATOR);
    // Every storage call those polls made is agent work (presence and authentication too), nothing else is.
    expect((after.storageRequests as number) - (before.storageRequests as number)).toBe(storage);
    expect((after.agentMinutes as number) - (before.agentMinutes as number)).toBeCloseTo(1, 1);
    expect(after.changeCheckRequests).toBe(0); // SQLite: one process, nothing to check
    expect(after.requestsPerAgentMinute).toBeCloseTo(
      (after.storageRequests as number) / (after.agentMinutes as number),
      1,
    );
    // A workspace admin sees its own agents' numbers; user requests are not agent work.
    await short.call("GET", "/api/v1/api-keys", { token: short.admin });
    const ws = await view(short.admin);
    // (The process's count also has the device reads of authentications, made before the workspace is known.)
    expect(ws.storageRequests).toBeGreaterThanOrEqual(storage);
    expect(ws.storageRequests).toBeLessThanOrEqual(after.storageRequests as number);
    expect(ws).not.toHaveProperty("changeCheckRequests");
  });

  it("refuses member keys (403), a wrong operator token (401), and the process view when none is configured", async () => {
    const member = await t.key("member");
    expect(await errorOf(await t.call("GET", "/api/v1/metrics", { token: member }))).toMatchObject({
      status: 403,
      code: "Forbidden",
    });
    expect(
      await errorOf(await t.call("GET", "/api/v1/metrics", { token: `${OPERATOR.slice(0, -1)}y` })),
    ).toMatchObject({ status: 401, code: "Unauthorized" });
    const plain = await testApp();
    expect(
      (await plain.app.request("/api/v1/metrics", { headers: { authorization: `Bearer ${OPERATOR}` } }))
        .status,
    ).toBe(401);
  });
});
