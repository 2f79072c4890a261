import { describe, expect, it } from "vitest";
import { sweepJobs } from "../../shared/usecases/feed/sweep.ts";
import { placePending } from "../../shared/usecases/jobs/placement.ts";
import { errorOf, type TestApp, testApp } from "../helpers/app.ts";
import { manualClock } from "../helpers/clock.ts";
import { snapshot } from "../helpers/db.ts";
import { type GpuAgent, gpuAgent, job, start, submit } from "../helpers/jobs.ts";

interface Device {
  id: string;
  status: string;
  nodeGroup: string;
  scheduling: string;
  drain?: { deadline: string };
  held: { cpus: number; memoryGiB: number; jobs: number };
}
const device = async (t: TestApp, id: string) =>
  (await (await t.call("GET", `/api/v1/devices/${id}`, { token: t.admin })).json()) as Device;
const post = (t: TestApp, path: string, body?: unknown) => t.call("POST", path, { token: t.admin, body });

describe("cordon and uncordon", () => {
  it("places nothing new on a cordoned device, says so, and places again once uncordoned", async () => {
    const t = await testApp();
    const agent = await gpuAgent(t, 1);
    const cordoned = (await (await post(t, `/api/v1/devices/${agent.deviceId}/cordon`)).json()) as Device;
    expect(cordoned.scheduling).toBe("cordoned");
    const waiting = await submit(t, { gpus: { count: 1 } });
    expect(waiting.body).toMatchObject({ status: "Pending", statusCode: "NoCapacity" });
    expect(waiting.body.statusMessage).toContain("cordoned or draining");
    expect((await device(t, agent.deviceId)).scheduling).toBe("cordoned");
    await post(t, `/api/v1/devices/${agent.deviceId}/uncordon`);
    await placePending(t.deps, "default");
    expect(await job(t, waiting.body.id)).toMatchObject({ statusCode: "Placed" });
  });

  it("is for admin keys, and another workspace's device is a 404", async () => {
    const t = await testApp();
    const agent = await gpuAgent(t, 1);
    const member = await t.key("member");
    expect((await t.call("POST", `/api/v1/devices/${agent.deviceId}/cordon`, { token: member })).status).toBe(
      403,
    );
    const other = await t.workspace("other");
    const before = await snapshot(t.db);
    expect((await t.call("POST", `/api/v1/devices/${agent.deviceId}/drain`, { token: other })).status).toBe(
      404,
    );
    expect(await snapshot(t.db)).toBe(before);
  });
});

describe("drain", () => {
  it("lets running jobs go on until the deadline, stops them then, and ends cordoned", async () => {
    const clock = manualClock(new Date());
    const t = await testApp({ clock });
    const agent = await gpuAgent(t, 2);
    const heartbeat = () => t.call("POST", "/api/v1/agent/heartbeat", { token: agent.session, body: {} });
    const { body } = await submit(t, { gpus: { count: 1 } });
    const r = await start(agent, body.id);
    const drained = (await (
      await post(t, `/api/v1/devices/${agent.deviceId}/drain`, { deadlineSeconds: 120 })
    ).json()) as Device;
    expect(drained).toMatchObject({ scheduling: "draining", drain: { deadline: expect.any(String) } });
    expect((await submit(t, { gpus: { count: 1 } })).body).toMatchObject({ statusCode: "NoCapacity" });

    for (let s = 0; s < 90; s += 30) {
      clock.advance(30_000);
      await heartbeat();
      await sweepJobs(t.deps);
    }
    expect(await job(t, body.id)).toMatchObject({ status: "Running" });
    clock.advance(60_000);
    await heartbeat();
    await sweepJobs(t.deps);
    const stopping = await job(t, body.id);
    expect(stopping).toMatchObject({ status: "Running", statusCode: "UserStop" });
    expect(stopping.statusMessage).toContain("the drain of device");
    expect((await agent.take()).some((e) => e.control?.action === "stop")).toBe(true);
    await agent.result(r, "ok", { exitCode: 143, stoppedBy: "stop" });
    expect(await job(t, body.id)).toMatchObject({ status: "Finished", statusCode: "UserStop" });
    const after = await device(t, agent.deviceId);
    expect(after).toMatchObject({ scheduling: "cordoned", held: { jobs: 0 } });
    expect(after.drain).toBeUndefined();
  });

  it("takes no body (an hour), refuses a bad deadline with 400 and changes nothing", async () => {
    const t = await testApp();
    const agent = await gpuAgent(t, 1);
    const before = await snapshot(t.db);
    const bad = await post(t, `/api/v1/devices/${agent.deviceId}/drain`, { deadlineSeconds: -1 });
    expect(await errorOf(bad)).toMatchObject({ status: 400, code: "InvalidRequest" });
    expect(await snapshot(t.db)).toBe(before);
    const res = await t.call("POST", `/api/v1/devices/${agent.deviceId}/drain`, { token: t.admin });
    expect(res.status).toBe(200);
    const d = (await res.json()) as Device;
    // No job on it: the drain is over at once.
    expect(d.scheduling).toBe("cordoned");
  });
});

describe("moving a device to another node group", () => {
  it("moves it with both groups' counts, and jobs of that group's queue go there", async () => {
    const t = await testApp();
    const agent = await gpuAgent(t, 1);
    await post(t, "/api/v1/node-groups", { name: "a100s" });
    const count = async (name: string) =>
      (
        (await (await t.call("GET", `/api/v1/node-groups/${name}`, { token: t.admin })).json()) as {
          deviceCount: number;
        }
      ).deviceCount;
    const waiting = await submit(t, { gpus: { count: 1 }, queues: ["a100s"] });
    expect(waiting.body).toMatchObject({ statusCode: "NeverFits" });
    const moved = await t.call("PATCH", `/api/v1/devices/${agent.deviceId}`, {
      token: t.admin,
      body: { nodeGroup: "a100s" },
    });
    expect(moved.status).toBe(200);
    expect(((await moved.json()) as Device).nodeGroup).toBe("a100s");
    expect([await count("default"), await count("a100s")]).toEqual([0, 1]);
    await placePending(t.deps, "default");
    expect(await job(t, waiting.body.id)).toMatchObject({ statusCode: "Placed" });
    // The group now has a device: it cannot be deleted.
    expect((await t.call("DELETE", "/api/v1/node-groups/a100s", { token: t.admin })).status).toBe(409);
  });

  it("two moves racing leave the device in one group and every group's count exact", async () => {
    const t = await testApp();
    const agent = await gpuAgent(t, 1);
    await gpuAgent(t, 1); // another device stays in default: its count must stay 1
    for (const name of ["a", "b"]) await post(t, "/api/v1/node-groups", { name });
    // Each move reads the device in `default`; the second to commit finds it moved and decides again.
    const moves = await Promise.all(
      ["a", "b", "a", "b"].map((nodeGroup) =>
        t.call("PATCH", `/api/v1/devices/${agent.deviceId}`, { token: t.admin, body: { nodeGroup } }),
      ),
    );
    expect(moves.map((m) => m.status)).toEqual([200, 200, 200, 200]);
    const count = async (name: string) =>
      (
        (await (await t.call("GET", `/api/v1/node-groups/${name}`, { token: t.admin })).json()) as {
          deviceCount: number;
        }
      ).deviceCount;
    const at = (await device(t, agent.deviceId)).nodeGroup;
    const counts = { default: await count("default"), a: await count("a"), b: await count("b") };
    expect(counts).toEqual({ default: 1, a: at === "a" ? 1 : 0, b: at === "b" ? 1 : 0 });
  });

  it("refuses an unknown group with 400 naming the field, changing nothing", async () => {
    const t = await testApp();
    const agent = await gpuAgent(t, 1);
    const before = await snapshot(t.db);
    const res = await t.call("PATCH", `/api/v1/devices/${agent.deviceId}`, {
      token: t.admin,
      body: { nodeGroup: "nope" },
    });
    const err = await errorOf(res);
    expect(err).toMatchObject({ status: 400, code: "InvalidRequest" });
    expect(JSON.stringify(err)).toContain("nodeGroup");
    expect(await snapshot(t.db)).toBe(before);
  });
});

describe("capability-aware placement", () => {
  it("places a container job only where Docker answers, and says which requirement fails", async () => {
    const t = await testApp();
    const processOnly = await gpuAgent(t, 1, { docker: false });
    const container = await submit(t, { container: { image: "alpine:3" } });
    expect(container.body).toMatchObject({ status: "Pending", statusCode: "NeverFits" });
    expect(container.body.statusMessage).toContain("no container runtime");
    expect((await submit(t, {})).body).toMatchObject({ statusCode: "Placed", host: expect.any(String) });
    const docker = await gpuAgent(t, 1);
    await placePending(t.deps, "default");
    const placed = await job(t, container.body.id);
    expect(placed).toMatchObject({ statusCode: "Placed" });
    expect(placed.host).not.toContain(processOnly.deviceId.slice(-8));
    expect(docker.deviceId).toBeDefined();
  });

  it("places CPUs and memory against what a device has and what its jobs hold", async () => {
    const t = await testApp();
    const agent: GpuAgent = await gpuAgent(t, 0, { resources: { cpu: "32", memory: "64Gi" } });
    const never = await submit(t, { cpus: 48 });
    expect(never.body).toMatchObject({ statusCode: "NeverFits" });
    expect(never.body.statusMessage).toContain("fewer than 48 CPUs");
    // Resource limits bind containers (a process job may not name one).
    const tooMuchMemory = await submit(t, {
      container: { image: "busybox" },
      resourceLimits: [{ type: "memory", value: String(128 * 1024) }],
    });
    expect(tooMuchMemory.body.statusMessage).toContain("less than 128 GiB of memory");

    const first = await submit(t, { cpus: 20, memoryGiB: 16 });
    expect(first.body).toMatchObject({ statusCode: "Placed" });
    expect((await device(t, agent.deviceId)).held).toEqual({ cpus: 20, memoryGiB: 16, jobs: 1 });
    const second = await submit(t, { cpus: 20 });
    expect(second.body).toMatchObject({ statusCode: "NoCapacity" });
    expect(second.body.statusMessage).toContain("20 CPUs");
    // The first ends: its CPUs come back and the second is placed.
    const r = await start(agent, first.body.id);
    await agent.result(r, "ok", { exitCode: 0 });
    await placePending(t.deps, "default");
    expect(await job(t, second.body.id)).toMatchObject({ statusCode: "Placed" });
    expect((await device(t, agent.deviceId)).held).toEqual({ cpus: 20, memoryGiB: 0, jobs: 1 });
  });
});

describe("a finished job's reservation", () => {
  const reservationState = async (t: TestApp, id: string) =>
    (
      (await (await t.call("GET", `/api/v1/reservations/${id}`, { token: t.admin })).json()) as {
        state: string;
      }
    ).state;

  it("is removed once the result is in, so the device cleans up now (not at its expiry)", async () => {
    const t = await testApp();
    const agent = await gpuAgent(t, 1);
    const { body } = await submit(t, {});
    const r = await start(agent, body.id);
    await agent.result(r, "ok", { exitCode: 0 });
    expect(await job(t, body.id)).toMatchObject({ status: "Finished", exitCode: 0 });
    expect(await reservationState(t, r.id)).toBe("toDelete");
    expect((await agent.take()).some((e) => e.id === r.id && e.toDelete)).toBe(true);
    await agent.deleted(r.id);
    expect(await reservationState(t, r.id)).toBe("deleted");
    // The job keeps its status.
    expect(await job(t, body.id)).toMatchObject({ status: "Finished", exitCode: 0 });
  });

  it("is kept while output is still on its way, and removed when the last of it arrives", async () => {
    const t = await testApp();
    const agent = await gpuAgent(t, 1);
    const { body } = await submit(t, {});
    const r = await start(agent, body.id);
    const data = JSON.stringify({ exitCode: 0 });
    const fields = { id: r.id, state: "ok", error: "", data };
    const { signResult } = await import("../../shared/domain/signing.ts");
    const res = await t.call("PUT", `/api/v1/agent/reservations/${r.id}/result`, {
      token: agent.session,
      body: {
        ...fields,
        type: r.type,
        created: new Date().toISOString(),
        signature: signResult(fields, agent.privateKey),
        outputPending: true,
      },
    });
    expect(res.status).toBe(200);
    expect(await reservationState(t, r.id)).toBe("ok");
    const out = await t.call("POST", `/api/v1/agent/reservations/${r.id}/output`, {
      token: agent.session,
      body: { chunks: [{ stream: "stdout", seq: 1, data: "bye\n" }], last: true },
    });
    expect(out.status).toBe(200);
    expect(await reservationState(t, r.id)).toBe("toDelete");
  });
});
