import { describe, expect, it } from "vitest";
import { sweepJobs } from "../../shared/usecases/feed/sweep.ts";
import { type TestApp, testApp } from "../helpers/app.ts";
import { type ManualClock, manualClock } from "../helpers/clock.ts";
import { type GpuAgent, gpuAgent, job, start, submit } from "../helpers/jobs.ts";

/**
 * Outages are not node losses (issue 12, finding 1): a running job is lost only once its device has been
 * silent for the job's `disconnect.lostAfterSeconds` while the control plane was up.
 */
describe("a running job whose device goes silent", () => {
  /** The control plane up for `seconds`, sweeping every 30 s as a server does (no agent calls meanwhile). */
  async function upFor(t: TestApp, clock: ManualClock, seconds: number) {
    let lost = 0;
    for (let s = 0; s < seconds; s += 30) {
      clock.advance(30_000);
      lost += (await sweepJobs(t.deps)).lost;
    }
    return lost;
  }
  async function running(disconnect?: Record<string, unknown>, gpus = 2) {
    const clock = manualClock(new Date());
    const t = await testApp({ clock });
    const agent = await gpuAgent(t, gpus);
    await sweepJobs(t.deps); // the control plane's first pulse
    const { body } = await submit(t, { gpus: { count: 2 }, ...(disconnect ? { disconnect } : {}) });
    await start(agent, body.id);
    return { t, clock, agent, id: body.id };
  }
  const quotaUse = async (t: TestApp) =>
    ((await (await t.call("GET", "/api/v1/quotas", { token: t.admin })).json()) as { use: { gpus: number } })
      .use.gpus;
  const device = async (t: TestApp, agent: GpuAgent) =>
    (await (await t.call("GET", `/api/v1/devices/${agent.deviceId}`, { token: t.admin })).json()) as {
      status: string;
      silentSince?: string;
      allocated: { gpus: number };
    };

  it("is failed NodeLost after its lostAfterSeconds of silence, giving its GPUs and quota back", async () => {
    const { t, clock, agent, id } = await running({ lostAfterSeconds: 150 });
    expect(await job(t, id)).toMatchObject({ disconnect: { lostAfterSeconds: 150, replace: false } });
    expect(await upFor(t, clock, 120)).toBe(0);
    expect(await job(t, id)).toMatchObject({ status: "Running" });
    expect(await device(t, agent)).toMatchObject({ status: "offline", silentSince: expect.any(String) });
    expect(await upFor(t, clock, 60)).toBe(1);
    expect(await job(t, id)).toMatchObject({ status: "Failed", statusCode: "NodeLost" });
    expect((await device(t, agent)).allocated.gpus).toBe(0);
    expect(await quotaUse(t)).toBe(0);
  });

  it("is never lost before its device is offline (a lostAfterSeconds under the device TTL waits for it)", async () => {
    const { t, clock, id } = await running({ lostAfterSeconds: 30 });
    expect(await upFor(t, clock, 90)).toBe(0);
    expect(await job(t, id)).toMatchObject({ status: "Running" });
    expect(await upFor(t, clock, 30)).toBe(1);
  });

  it("gets the control plane's default (an hour) when it names none", async () => {
    const { t, clock, id } = await running();
    expect(await job(t, id)).toMatchObject({ disconnect: { lostAfterSeconds: 3600, replace: false } });
    expect(await upFor(t, clock, 3500)).toBe(0);
    expect(await upFor(t, clock, 200)).toBe(1);
  });

  it("is not lost for silence while the control plane was down: its device gets a fresh grace period", async () => {
    const { t, clock, agent, id } = await running({ lostAfterSeconds: 120 });
    expect(await upFor(t, clock, 60)).toBe(0);
    clock.advance(600_000); // every server down for ten minutes: no sweep anywhere
    expect(await upFor(t, clock, 90)).toBe(0);
    expect(await job(t, id)).toMatchObject({ status: "Running" });
    // The device's silence counts from the control plane's return, not from its last contact.
    const view = await device(t, agent);
    expect(Date.parse(view.silentSince!)).toBeGreaterThan(clock.now().getTime() - 120_000);
    // Still silent past lostAfterSeconds after the return: now it is lost.
    expect(await upFor(t, clock, 90)).toBe(1);
  });

  it("is not lost while the API does not answer (AWS: the sweeper asks it), and counts from its return", async () => {
    const { t, clock, id } = await running({ lostAfterSeconds: 120 });
    let answers = false;
    const sweep = () => sweepJobs(t.deps, { apiUp: async () => answers });
    for (let i = 0; i < 20; i++) {
      clock.advance(30_000);
      expect((await sweep()).lost).toBe(0);
    }
    answers = true;
    clock.advance(30_000);
    expect((await sweep()).lost).toBe(0);
    expect(await job(t, id)).toMatchObject({ status: "Running" });
  });

  it("with replace: a copy is submitted when it is lost, and placed on another device", async () => {
    const { t, clock, agent, id } = await running({ lostAfterSeconds: 60, replace: true });
    const other = await gpuAgent(t, 2);
    // The other device keeps calling in; the first stays silent (lost once offline: after the 90 s TTL).
    for (let s = 0; s < 150; s += 30) {
      clock.advance(30_000);
      await t.call("POST", "/api/v1/agent/heartbeat", { token: other.session, body: {} });
      await sweepJobs(t.deps);
    }
    const lost = await job(t, id);
    expect(lost).toMatchObject({ status: "Failed", statusCode: "NodeLost", replacedBy: expect.any(String) });
    const copy = await job(t, lost.replacedBy as string);
    expect(copy).toMatchObject({
      status: "Pending",
      statusCode: "Placed",
      replacementOf: id,
      host: expect.stringContaining("node-"),
      disconnect: { lostAfterSeconds: 60, replace: true },
    });
    expect(copy.host).not.toBe(lost.host);
    expect(await quotaUse(t)).toBe(2);
    expect(agent.deviceId).not.toBe(other.deviceId);
  });
});
