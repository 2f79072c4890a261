import { describe, expect, it } from "vitest";
import type { AgentReservation } from "../../shared/contracts/reservations.ts";
import { verifySampleV2 } from "../../shared/domain/signing.ts";
import { errorOf, type TestApp, testApp } from "../helpers/app.ts";
import { type GpuAgent, gpuAgent, start, submit } from "../helpers/jobs.ts";
import { until } from "../helpers/wait.ts";

const util = (t: TestApp, id: string, q = "", token = t.admin) =>
  t.call("GET", `/api/v1/jobs/${id}/resource-util${q}`, { token });
const postUsage = (t: TestApp, agent: GpuAgent, id: string, samples: unknown[]) =>
  t.call("POST", `/api/v1/agent/reservations/${id}/usage`, { token: agent.session, body: { samples } });

async function running(t: TestApp) {
  const agent = await gpuAgent(t, 1, { protocol: 2 });
  const { body } = await submit(t, { gpus: { count: 1 } });
  const r = await start(agent, body.id);
  return { agent, job: body.id, r };
}

/** The sample controls on the device's feed since the last take. */
const samples = async (agent: GpuAgent): Promise<AgentReservation[]> =>
  (await agent.take()).filter((x) => x.control?.action === "sample");

describe("GET /jobs/{id}/resource-util", () => {
  it("takes a sampling lease (one signed sample control) and answers the sample the agent posts", async () => {
    const t = await testApp();
    const { agent, job, r } = await running(t);
    const asking = util(t, job);
    const controls: AgentReservation[] = [];
    await until(async () => {
      controls.push(...(await samples(agent)));
      return controls.length > 0;
    });
    const c = controls[0]!.control!;
    expect(c).toMatchObject({ action: "sample", intervalSeconds: 5 });
    const lease = Date.parse(c.until!) - Date.parse(c.issuedAt);
    expect(lease).toBeGreaterThan(55_000);
    expect(lease).toBeLessThanOrEqual(60_000);
    expect(
      verifySampleV2(
        {
          id: r.id,
          nodeId: agent.deviceId,
          seq: c.seq!,
          issuedAt: c.issuedAt,
          intervalSeconds: c.intervalSeconds!,
          until: c.until!,
          signature: c.signature,
        },
        t.deps.keys.signing.publicKeyBase64,
      ),
    ).toBe(true);
    const sample = {
      cpuPercent: 12.5,
      cpuTime: 3.2,
      residentMemory: 41.5,
      virtualMemory: 900,
      sampledAt: new Date().toISOString(),
    };
    expect((await postUsage(t, agent, r.id, [sample])).status).toBe(200);
    const res = await asking;
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      sample: { cpuPercent: 12.5, residentMemory: 41.5 },
      complete: false,
    });
    // Fresh: answered at once, and nobody asks the device again while the lease stands.
    expect(((await (await util(t, job)).json()) as { sample: unknown }).sample).not.toBeNull();
    await Promise.all([util(t, job, "?follow=false"), util(t, job)]);
    expect(await samples(agent)).toEqual([]);
  });

  it("keeps only a newer sample: a late batch changes nothing", async () => {
    const t = await testApp();
    const { agent, job, r } = await running(t);
    const now = Date.now();
    const at = (ms: number) => new Date(now + ms).toISOString();
    await postUsage(t, agent, r.id, [
      { cpuPercent: 50, sampledAt: at(0) },
      { cpuPercent: 60, sampledAt: at(-5000) },
    ]);
    const late = await postUsage(t, agent, r.id, [{ cpuPercent: 1, sampledAt: at(-10_000) }]);
    expect(await late.json()).toEqual({ stored: false });
    expect(await (await util(t, job)).json()).toMatchObject({ sample: { cpuPercent: 50 } });
    expect((await postUsage(t, agent, r.id, [{ cpuPercent: 101, sampledAt: at(1000) }])).status).toBe(400);
    expect(await (await util(t, job)).json()).toMatchObject({ sample: { cpuPercent: 50 } });
    expect((await postUsage(t, agent, r.id, [])).status).toBe(400);
    const other = await gpuAgent(t, 1, { protocol: 2 });
    expect((await postUsage(t, other, r.id, [{ cpuPercent: 5, sampledAt: at(1000) }])).status).toBe(404);
  });

  it("is 409 JobNotRunning for a pending job, 404 for another member's, and complete for a final one", async () => {
    const t = await testApp();
    // Four GPUs: it stays pending on the one-GPU device below.
    const { body: pending } = await submit(t, { gpus: { count: 4 } });
    const refused = await errorOf(await util(t, pending.id));
    expect(refused).toMatchObject({
      status: 409,
      code: "JobNotRunning",
      message: "The job is not currently running",
    });
    expect((await util(t, pending.id, "", await t.key("member"))).status).toBe(404);
    expect((await util(t, "no-such-job")).status).toBe(404);
    const { agent, job, r } = await running(t);
    await postUsage(t, agent, r.id, [{ cpuTime: 9, sampledAt: new Date().toISOString() }]);
    await agent.result(r, "ok", { exitCode: 0 });
    expect(await (await util(t, job)).json()).toMatchObject({ sample: { cpuTime: 9 }, complete: true });
  });

  it("streams util events while following, then complete with the job's status", async () => {
    const t = await testApp();
    const { agent, job, r } = await running(t);
    const res = await util(t, job, "?follow=true");
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const reading = res.text();
    await until(async () => (await samples(agent)).length > 0);
    await postUsage(t, agent, r.id, [
      { cpuPercent: 10, sampledAt: new Date(Date.now() - 1000).toISOString() },
    ]);
    await until(async () => !!(await t.deps.repos.usage.get(r.id))?.sample);
    await postUsage(t, agent, r.id, [{ cpuPercent: 20, sampledAt: new Date().toISOString() }]);
    await until(async () => (await t.deps.repos.usage.get(r.id))?.sample?.cpuPercent === 20);
    await agent.result(r, "ok", { exitCode: 3 });
    const events = (await reading)
      .trim()
      .split("\n\n")
      .filter((b) => b.startsWith("event:"))
      .map((block) =>
        Object.fromEntries(
          block.split("\n").map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1).trim()]),
        ),
      );
    const utils = events.filter((e) => e.event === "util").map((e) => JSON.parse(e.data!));
    expect(utils.at(-1)).toMatchObject({ cpuPercent: 20 });
    expect(utils.map((u) => u.seqId)).toEqual(utils.map((_, i) => i + 1));
    expect(events.at(-1)).toMatchObject({ event: "complete" });
    expect(JSON.parse(events.at(-1)!.data!)).toEqual({ status: "Finished", exitCode: 3 });
  });
});
