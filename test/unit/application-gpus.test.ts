import { beforeAll, describe, expect, it } from "vitest";
import type { AgentReservation } from "../../shared/contracts/reservations.ts";
import type { ApplicationData } from "../../shared/domain/reservation-data.ts";
import { FULL_PASS_MS, sweepApplications } from "../../shared/usecases/applications/reconcile.ts";
import { type TestApp, testApp } from "../helpers/app.ts";
import { type GpuAgent, gpuAgent, job, submit } from "../helpers/jobs.ts";

const APPS = "/api/v1/namespaces/default/applications";

type Dep = { state: string; message: string; gpus?: number[] };

/** `gpus: {count: N}` (applications.md §7): claimed per device like a job's, never given twice. */
describe("applications claiming GPUs", () => {
  let t: TestApp;
  let agent: GpuAgent;
  const call = (method: string, path: string, body?: unknown) =>
    t.call(method, path, { token: t.admin, body });
  const deployment = async (name: string) =>
    ((await (await call("GET", `${APPS}/${name}/deployments`)).json()) as { items: Dep[] }).items[0];
  const owners = async () => (await t.deps.repos.devices.get(agent.deviceId))!.gpuOwners;
  const applies = (rs: AgentReservation[]) => rs.filter((r) => r.type === "application" && !r.toDelete);
  const app = (name: string, count: number) => ({
    name,
    scheduling: { type: "AllDevices" },
    spec: { containers: [{ name: "worker", image: "vllm:1", gpus: { count } }] },
  });

  beforeAll(async () => {
    t = await testApp();
    agent = await gpuAgent(t, 4);
  });

  it("claims its GPUs on the device, hands them to its container, keeps jobs off them, and gives them back", async () => {
    const created = (await (await call("POST", APPS, app("inference", 2))).json()) as { id: string };
    expect(await deployment("inference")).toMatchObject({ state: "pending", gpus: [0, 1] });
    expect(await owners()).toEqual({ 0: `app:${created.id}`, 1: `app:${created.id}` });
    const [r] = applies(await agent.take());
    expect((JSON.parse(r!.data) as ApplicationData).containers[0]!.gpus).toEqual([0, 1]);

    // A job gets the others, and one that needs more than are left waits.
    const { body: small } = await submit(t, { gpus: { count: 2 } });
    expect((await job(t, small.id)).statusMessage).toMatch(/\(GPU 2, 3\)$/);
    expect(Object.keys(await owners()).sort()).toEqual(["0", "1", "2", "3"]);
    const { body: big } = await submit(t, { gpus: { count: 1 } });
    expect((await job(t, big.id)).statusCode).not.toBe("Placed");

    // Another application needing two: it waits, saying why, and no reservation goes out.
    const trainerId = ((await (await call("POST", APPS, app("trainer", 2))).json()) as { id: string }).id;
    const queued = async () => (await t.deps.repos.applications.dirty(100)).map((q) => q.id);
    // Waiting, it stays in the reconciler's queue: each sweep tries again. The one placed is not in it.
    expect(await queued()).toContain(trainerId);
    expect(await queued()).not.toContain(created.id);
    expect(await deployment("trainer")).toMatchObject({
      state: "pending",
      message: "waiting for 2 free GPUs (held by jobs or other applications)",
    });
    expect(applies(await agent.take())).toEqual([]);

    // The first application goes: its device removes it, and its GPUs come free for the one waiting.
    await call("DELETE", `${APPS}/inference`);
    const removal = (await agent.take()).find((x) => x.toDelete && x.id === r!.id);
    expect(removal).toBeDefined();
    expect((await agent.deleted(r!.id)).status).toBe(200);
    // The full pass taken (as by another server a minute ago): the sweep's queue alone takes it up.
    expect(await t.deps.repos.applications.claimFullPass(t.deps.clock.now(), FULL_PASS_MS)).toBe(true);
    expect(await sweepApplications(t.deps)).toMatchObject({ full: 0 });
    expect(await queued()).not.toContain(trainerId);
    const trainer = await deployment("trainer");
    expect(trainer?.gpus).toHaveLength(2);
    const mine = Object.values(await owners()).filter((o) => o.startsWith("app:"));
    expect(mine).toHaveLength(2);
    expect(
      applies(await agent.take()).map((x) => (JSON.parse(x.data) as ApplicationData).application.name),
    ).toEqual(["trainer"]);
    // An update that keeps the count keeps the same GPUs.
    await call("PATCH", `${APPS}/trainer`, {
      spec: { containers: [{ name: "worker", image: "vllm:2", gpus: { count: 2 } }] },
    });
    expect((await deployment("trainer"))?.gpus).toEqual(trainer!.gpus);
  });

  it("records no GPUs for a deployment that could not go out (a secret the device cannot receive)", async () => {
    const t2 = await testApp();
    const other = await gpuAgent(t2, 2);
    const call2 = (method: string, path: string, body?: unknown) =>
      t2.call(method, path, { token: t2.admin, body });
    expect(
      (
        await call2("POST", "/api/v1/namespaces/default/secrets", {
          name: "tok",
          type: "Environment",
          data: "v-123456",
        })
      ).status,
    ).toBe(201);
    await call2("POST", APPS, {
      ...app("sealed", 1),
      spec: {
        containers: [
          { name: "worker", image: "vllm:1", gpus: { count: 1 }, env: [{ name: "T", fromSecret: "tok" }] },
        ],
      },
    });
    const [d] = ((await (await call2("GET", `${APPS}/sealed/deployments`)).json()) as { items: Dep[] }).items;
    expect(d).toMatchObject({ state: "failed" });
    expect(d?.gpus).toBeUndefined();
    expect((await t2.deps.repos.devices.get(other.deviceId))!.gpuOwners).toEqual({});
  });
});
