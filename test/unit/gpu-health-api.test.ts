import { describe, expect, it } from "vitest";
import { type HealthReport, MAX_REPORT_BYTES, summarize } from "../../shared/domain/gpu-health.ts";
import { verifyReservation } from "../../shared/domain/signing.ts";
import type { SimAgent } from "../helpers/agents.ts";
import { errorOf, type TestApp, testApp } from "../helpers/app.ts";
import { manualClock } from "../helpers/clock.ts";
import { createToken, gpudLoginBody, login } from "../helpers/fleet.ts";
import { gpuAgent, job, start, submit } from "../helpers/jobs.ts";
import { until } from "../helpers/wait.ts";

const XID_COMPONENT = "accelerator-nvidia-error-xid";

/** A report with GPU `sick` (if any) made Unhealthy by a fatal Xid, the others healthy. */
function report(
  gpus: number,
  opts: { sick?: number; at?: string; events?: HealthReport["events"]; extra?: HealthReport["states"] } = {},
): HealthReport {
  const at = opts.at ?? new Date().toISOString();
  const sick = opts.sick;
  return {
    source: "berth",
    bootId: "boot-1",
    collectedAt: at,
    states: [
      {
        component: XID_COMPONENT,
        states: [
          sick === undefined
            ? { name: "error_xid", health: "Healthy", reason: "" }
            : {
                name: "error_xid",
                health: "Unhealthy",
                reason: `XID 79 (GPU has fallen off the bus) detected on GPU GPU-${sick}`,
                suggested_actions: { repair_actions: ["REBOOT_SYSTEM"] },
                extra_info: { gpu_uuid: `GPU-${sick}`, gpu_index: String(sick) },
              },
        ],
      },
      ...(opts.extra ?? []),
    ],
    events: opts.events ?? [],
    gpus: Array.from({ length: gpus }, (_, i) => ({
      index: i,
      uuid: `GPU-${i}`,
      health: i === sick ? "Unhealthy" : "Healthy",
      components: i === sick ? [XID_COMPONENT] : [],
    })),
  };
}

async function submitted(t: TestApp, body: Record<string, unknown>) {
  const res = await submit(t, body);
  expect(res.body.error).toBeUndefined();
  return res.body;
}

const post = (t: TestApp, agent: SimAgent, body: unknown) =>
  t.call("POST", "/api/v1/agent/health", { token: agent.session, body });
const health = async (t: TestApp, id: string) =>
  (await (await t.call("GET", `/api/v1/devices/${id}/health`, { token: t.admin })).json()) as {
    summary: { state: string; unhealthyGpus: number[]; deviceUnhealthy: boolean; reason: string } | null;
    report: { collectedAt: string } | null;
  };

describe("POST /agent/health and the device's health", () => {
  it("stores a report, summarises it on the device, and lists devices by health", async () => {
    const t = await testApp();
    const sick = await gpuAgent(t, 2);
    const well = await gpuAgent(t, 2);
    expect((await post(t, sick, report(2, { sick: 1 }))).status).toBe(200);
    expect((await post(t, well, report(2))).status).toBe(200);
    const h = await health(t, sick.deviceId);
    expect(h.summary).toMatchObject({ state: "Unhealthy", unhealthyGpus: [1], deviceUnhealthy: false });
    expect(h.summary?.reason).toContain("XID 79");
    const device = (await (
      await t.call("GET", `/api/v1/devices/${sick.deviceId}`, { token: t.admin })
    ).json()) as { health: { state: string } };
    expect(device.health.state).toBe("Unhealthy");
    const list = (await (
      await t.call("GET", "/api/v1/devices?health=Unhealthy", { token: t.admin })
    ).json()) as { items: { id: string }[] };
    expect(list.items.map((d) => d.id)).toEqual([sick.deviceId]);
    expect((await t.call("GET", "/api/v1/devices?health=Sick", { token: t.admin })).status).toBe(400);
  });

  it("keeps the newer report when reports arrive out of order", async () => {
    const t = await testApp();
    const agent = await gpuAgent(t, 1);
    const late = await post(t, agent, report(1, { sick: 0, at: "2026-12-02T10:00:10.000Z" }));
    expect(((await late.json()) as { stored: boolean }).stored).toBe(true);
    const early = await post(t, agent, report(1, { at: "2026-12-02T10:00:00.000Z" }));
    expect(((await early.json()) as { stored: boolean }).stored).toBe(false);
    expect((await health(t, agent.deviceId)).summary?.state).toBe("Unhealthy");
  });

  it("refuses bad reports with a 4xx and stores nothing", async () => {
    const t = await testApp();
    const agent = await gpuAgent(t, 1);
    const bad = report(1);
    (bad.states[0]!.states[0] as { health: string }).health = "Sick";
    expect(await errorOf(await post(t, agent, bad))).toMatchObject({ status: 400 });
    const many = report(1, {
      extra: Array.from({ length: 64 }, (_, i) => ({ component: `c${i}`, states: [] })),
    });
    expect((await post(t, agent, many)).status).toBe(400);
    const huge = report(1, {
      events: Array.from({ length: 400 }, (_, i) => ({
        id: `e${i}`,
        component: XID_COMPONENT,
        time: "2026-12-02T10:00:00.000Z",
        name: "error_xid",
        type: "Warning",
        message: "x".repeat(1000),
      })),
    });
    expect(JSON.stringify(huge).length).toBeGreaterThan(MAX_REPORT_BYTES);
    expect((await post(t, agent, huge)).status).toBe(413);
    expect(await health(t, agent.deviceId)).toMatchObject({ summary: null, report: null });
    // A newer GPUd's component this Berth does not know is kept.
    const newer = report(1, { extra: [{ component: "accelerator-nvidia-gpm", states: [] }] });
    expect((await post(t, agent, newer)).status).toBe(200);
  });

  it("keeps events idempotent by id, newest first, filtered by type, and only for the device's workspace", async () => {
    const t = await testApp();
    const agent = await gpuAgent(t, 1);
    const event = (id: string, time: string, type: "Fatal" | "Warning") => ({
      id,
      component: XID_COMPONENT,
      time,
      name: "error_xid",
      type,
      message: `XID ${type === "Fatal" ? 79 : 13}`,
    });
    const events = [
      event("b:1", "2026-12-02T10:00:00.000Z", "Warning"),
      event("b:2", "2026-12-02T10:01:00.000Z", "Fatal"),
    ];
    await post(t, agent, report(1, { events, at: "2026-12-02T10:02:00.000Z" }));
    await post(t, agent, report(1, { events, at: "2026-12-02T10:03:00.000Z" }));
    const page = async (q: string, token = t.admin) =>
      t.call("GET", `/api/v1/devices/${agent.deviceId}/health/events${q}`, { token });
    const all = (await (await page("")).json()) as { items: { id: string }[] };
    expect(all.items.map((e) => e.id)).toEqual(["b:2", "b:1"]);
    const fatal = (await (await page("?type=Fatal")).json()) as { items: { id: string }[] };
    expect(fatal.items.map((e) => e.id)).toEqual(["b:2"]);
    const since = (await (await page("?since=2026-12-02T10:00:30Z")).json()) as { items: { id: string }[] };
    expect(since.items.map((e) => e.id)).toEqual(["b:2"]);
    expect((await page("?type=Bad")).status).toBe(400);
    const other = await t.workspace("other");
    expect((await page("", other)).status).toBe(404);
    expect((await t.call("GET", `/api/v1/devices/${agent.deviceId}/health`, { token: other })).status).toBe(
      404,
    );
  });

  it("reads Unknown when an online device has not reported for 15 minutes", async () => {
    const clock = manualClock(new Date("2026-12-02T10:00:00.000Z"));
    const t = await testApp({ clock, config: { deviceTtlSeconds: 3600 } });
    const agent = await gpuAgent(t, 1);
    await post(t, agent, report(1, { at: clock.now().toISOString() }));
    expect((await health(t, agent.deviceId)).summary?.state).toBe("Healthy");
    clock.advance(16 * 60_000);
    await agent.poll(0);
    expect((await health(t, agent.deviceId)).summary?.state).toBe("Unknown");
  });
});

describe("placement and GPU health", () => {
  it("skips an Unhealthy GPU, and places on it again once the device reports it healthy", async () => {
    const t = await testApp();
    const agent = await gpuAgent(t, 2);
    await post(t, agent, report(2, { sick: 1 }));
    const first = await submitted(t, { gpus: { count: 1 } });
    await until(async () => (await job(t, first.id)).host !== undefined);
    expect((await job(t, first.id)).statusMessage).toMatch(/\(GPU 0\)$/);
    const second = await submitted(t, { gpus: { count: 1 } });
    await until(async () => (await job(t, second.id)).statusCode === "NoCapacity");
    expect((await job(t, second.id)).statusMessage).toContain("Unhealthy GPUs are skipped");
    await post(t, agent, report(2));
    await until(async () => (await job(t, second.id)).host !== undefined);
    expect((await job(t, second.id)).statusMessage).toMatch(/\(GPU 1\)$/);
  });

  it("skips a whole device when an Unhealthy component names no GPU, unless the workspace ignores health", async () => {
    const t = await testApp();
    const agent = await gpuAgent(t, 1);
    await post(
      t,
      agent,
      report(1, {
        extra: [
          {
            component: "accelerator-nvidia-fabric-manager",
            states: [
              { name: "fabric_manager", health: "Unhealthy", reason: "fabric manager found but not active" },
            ],
          },
        ],
      }),
    );
    expect((await health(t, agent.deviceId)).summary?.deviceUnhealthy).toBe(true);
    const j = await submitted(t, { gpus: { count: 1 } });
    await until(async () => (await job(t, j.id)).statusCode === "NoCapacity");
    expect((await job(t, j.id)).statusMessage).toContain("Unhealthy");
    const member = await t.key("member");
    const denied = await t.call("PUT", "/api/v1/health/settings", {
      token: member,
      body: { placement: "ignore" },
    });
    expect(denied.status).toBe(403);
    expect(
      (await t.call("PUT", "/api/v1/health/settings", { token: t.admin, body: { placement: "sometimes" } }))
        .status,
    ).toBe(400);
    const read = await t.call("GET", "/api/v1/health/settings", { token: t.admin });
    expect(await read.json()).toEqual({ placement: "exclude-unhealthy" });
    const set = await t.call("PUT", "/api/v1/health/settings", {
      token: t.admin,
      body: { placement: "ignore" },
    });
    expect(set.status).toBe(200);
    await until(async () => (await job(t, j.id)).host !== undefined);
  });
});

describe("POST /devices/{id}/health/set-healthy", () => {
  it("puts a signed set-healthy operation on the device's feed", async () => {
    const t = await testApp();
    const agent = await gpuAgent(t, 1);
    const res = await t.call("POST", `/api/v1/devices/${agent.deviceId}/health/set-healthy`, {
      token: t.admin,
      body: { components: [XID_COMPONENT] },
    });
    expect(res.status).toBe(202);
    const op = (await res.json()) as { id: string; action: string; state: string };
    expect(op).toMatchObject({ action: "set-healthy", state: "pending" });
    const [entry] = await agent.take();
    expect(entry?.id).toBe(op.id);
    expect(JSON.parse(entry!.data)).toMatchObject({ action: "set-healthy", components: [XID_COMPONENT] });
    expect(verifyReservation(entry!, t.deps.keys.signing.publicKeyBase64)).toBe(true);
    // Asked again while it waits: the same operation.
    const again = await t.call("POST", `/api/v1/devices/${agent.deviceId}/health/set-healthy`, {
      token: t.admin,
      body: { components: [XID_COMPONENT] },
    });
    expect(((await again.json()) as { id: string }).id).toBe(op.id);
  });

  it("refuses a component that cannot be set, a member key, and a device without Berth's agent", async () => {
    const t = await testApp();
    const agent = await gpuAgent(t, 1);
    const call = (id: string, body: unknown, token = t.admin) =>
      t.call("POST", `/api/v1/devices/${id}/health/set-healthy`, { token, body });
    const bad = await errorOf(await call(agent.deviceId, { components: ["accelerator-nvidia-temperature"] }));
    expect(bad).toMatchObject({ status: 400 });
    expect(bad.message).toContain("accelerator-nvidia-remapped-rows");
    expect((await call(agent.deviceId, {}, await t.key("member"))).status).toBe(403);
    const { token } = await createToken(t, {}, t.admin);
    const gpud = await login(t, gpudLoginBody(token));
    const plain = await errorOf(await call(gpud.body.machineID as string, {}));
    expect(plain).toMatchObject({ status: 400, code: "RequestNotSupported" });
    expect(await agent.take()).toEqual([]);
  });
});

describe("GET /health/xids", () => {
  it("serves GPUd's catalog: 79 is Fatal, 13 is an application's Warning, an unknown code is a 404", async () => {
    const t = await testApp();
    const get = (path: string) => t.call("GET", `/api/v1/health/xids${path}`, { token: t.admin });
    const all = (await (await get("")).json()) as { items: { code: number }[] };
    expect(all.items.length).toBeGreaterThan(100);
    expect(await (await get("/79")).json()).toMatchObject({ code: 79, type: "Fatal" });
    expect(((await (await get("/79")).json()) as { repairActions: string[] }).repairActions[0]).toBe(
      "REBOOT_SYSTEM",
    );
    expect(await (await get("/13")).json()).toMatchObject({ code: 13, type: "Warning" });
    expect(await (await get("/94")).json()).toMatchObject({ rebootThreshold: 1000 });
    expect((await get("/99999")).status).toBe(404);
    expect((await get("/abc")).status).toBe(400);
  });
});

describe("a job that fails after a fatal Xid on its GPU", () => {
  it("says so in its status message; one that ends well, or on another GPU, does not", async () => {
    const t = await testApp();
    const agent = await gpuAgent(t, 2);
    const a = await submitted(t, { gpus: { count: 1 } });
    const ra = await start(agent, a.id);
    const b = await submitted(t, { gpus: { count: 1 } });
    const rb = await start(agent, b.id);
    const gpuOf = (r: { data: string }) => (JSON.parse(r.data) as { gpus: number[] }).gpus[0]!;
    const at = new Date().toISOString();
    await post(
      t,
      agent,
      report(2, {
        sick: gpuOf(ra),
        events: [
          {
            id: "boot-1:1801",
            component: XID_COMPONENT,
            time: at,
            name: "error_xid",
            type: "Fatal",
            message: `XID 79 (GPU has fallen off the bus) detected on GPU GPU-${gpuOf(ra)}: NVRM: Xid (PCI:0000:18:00): 79, pid=0`,
          },
        ],
      }),
    );
    await agent.result(ra, "ok", { exitCode: 1 });
    await agent.result(rb, "ok", { exitCode: 1 });
    expect((await job(t, a.id)).statusMessage).toContain(
      `(GPU ${gpuOf(ra)} reported Xid 79 (GPU has fallen off the bus) at ${at.replace(/\.\d{3}Z$/, "Z")})`,
    );
    expect((await job(t, b.id)).statusMessage).not.toContain("Xid");
  });
});

describe("summarize", () => {
  const base = { source: "berth" as const, bootId: "b", collectedAt: "2026-12-02T10:00:00.000Z", events: [] };
  const unhealthy = (extra?: Record<string, string>) => ({
    name: "error_xid",
    health: "Unhealthy" as const,
    reason: "XID 79",
    ...(extra ? { extra_info: extra } : {}),
  });
  it("takes a GPU whose UUID nvidia-smi could not read by its index", () => {
    const s = summarize(
      {
        ...base,
        states: [{ component: XID_COMPONENT, states: [unhealthy({ gpu_index: "1" })] }],
        gpus: [
          { index: 0, uuid: "GPU-0", health: "Healthy", components: [] },
          { index: 1, health: "Healthy", components: [] },
        ],
      },
      base.collectedAt,
    );
    expect(s).toMatchObject({ state: "Unhealthy", unhealthyGpus: [1], deviceUnhealthy: false });
  });
  it("keeps a device-wide fault of a component that also names a GPU", () => {
    const s = summarize(
      {
        ...base,
        states: [{ component: XID_COMPONENT, states: [unhealthy({ gpu_uuid: "GPU-0" }), unhealthy()] }],
        gpus: [{ index: 0, uuid: "GPU-0", health: "Unhealthy", components: [XID_COMPONENT] }],
      },
      base.collectedAt,
    );
    expect(s).toMatchObject({ unhealthyGpus: [0], deviceUnhealthy: true });
  });
});

describe("a report from a clock far ahead", () => {
  it("is refused with a 400 that says to fix the clock, and stores nothing", async () => {
    const t = await testApp();
    const agent = await gpuAgent(t, 1);
    const ahead = new Date(Date.now() + 3600_000).toISOString();
    const res = await errorOf(await post(t, agent, report(1, { at: ahead })));
    expect(res).toMatchObject({ status: 400 });
    expect(res.message).toContain("NTP");
    expect(await health(t, agent.deviceId)).toMatchObject({ summary: null, report: null });
  });
});
