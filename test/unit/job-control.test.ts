import { beforeAll, describe, expect, it } from "vitest";
import { JOB_OPERATIONS } from "../../shared/domain/job.ts";
import { detachedBackground } from "../../shared/ports/background.ts";
import { placePending } from "../../shared/usecases/jobs/placement.ts";
import { errorOf, type TestApp, testApp } from "../helpers/app.ts";
import { snapshot } from "../helpers/db.ts";
import { control, type GpuAgent, gpuAgent, job, start, submit } from "../helpers/jobs.ts";

describe("POST /api/v1/jobs/{id}/control", () => {
  let t: TestApp;
  let agent: GpuAgent;
  beforeAll(async () => {
    t = await testApp();
    agent = await gpuAgent(t, 8);
  });

  /** A job brought to `status` through the real paths (placement, the agent's reports, control). */
  async function jobIn(status: string): Promise<string> {
    const { body } = await submit(t, { gpus: { count: status === "Pending" ? 64 : 0 } });
    if (status === "Pending") return body.id;
    const r = await start(agent, body.id);
    if (status === "Suspended") await control(t, body.id, "suspend");
    if (status === "Finished") await agent.result(r, "ok", { exitCode: 0 });
    if (status === "Failed") await agent.result(r, "error", {}, "boom");
    if (status === "Killed") {
      await control(t, body.id, "kill");
      await agent.take();
      await agent.result(r, "ok", { exitCode: 137, stoppedBy: "kill" });
    }
    if (status === "Canceled") {
      const pending = await submit(t, { gpus: { count: 64 } });
      await control(t, pending.body.id, "cancel");
      return pending.body.id;
    }
    await agent.take(); // drain controls
    expect((await job(t, body.id)).status).toBe(status);
    return body.id;
  }

  const statuses = ["Pending", "Running", "Suspended", "Finished", "Failed", "Killed", "Canceled"];
  const rows = Object.entries(JOB_OPERATIONS).flatMap(([op, required]) =>
    statuses.map((s) => [op, s, (required as readonly string[]).includes(s)] as const),
  );

  it.each(rows)("%s on a %s job → %s", async (op, status, allowed) => {
    const id = await jobIn(status);
    const before = await snapshot(t.db);
    const res = await control(t, id, op);
    if (allowed) {
      expect(res.status).toBe(200);
      return;
    }
    const verb = op[0]!.toUpperCase() + op.slice(1);
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({
      code: "InvalidJobState",
      message: `Job must be ${JOB_OPERATIONS[op as keyof typeof JOB_OPERATIONS].join(" or ")} to ${verb} it (current status: ${status})`,
    });
    expect(await snapshot(t.db)).toBe(before);
  });

  it("refuses the job id * (400) and an unknown operation (400)", async () => {
    expect(
      await errorOf(
        await t.call("POST", "/api/v1/jobs/*/control", { token: t.admin, body: { operation: "kill" } }),
      ),
    ).toMatchObject({
      status: 400,
      code: "InvalidRequest",
    });
    const id = await jobIn("Running");
    const err = await errorOf(
      await t.call("POST", `/api/v1/jobs/${id}/control`, { token: t.admin, body: { operation: "pause" } }),
    );
    expect(err).toMatchObject({ status: 400, code: "InvalidRequest" });
    expect(err.message).toContain("operation must be one of suspend, resume, stop, kill, cancel");
  });

  it("suspends and resumes through signed control entries on the device's feed", async () => {
    const id = await jobIn("Running");
    expect((await control(t, id, "suspend")).body).toMatchObject({
      status: "Suspended",
      statusCode: "UserSuspend",
    });
    const [suspend] = await agent.take();
    expect(suspend!.control).toMatchObject({ action: "suspend", signature: expect.any(String) });
    expect((await control(t, id, "resume")).body).toMatchObject({ status: "Running" });
    expect((await agent.take())[0]!.control?.action).toBe("resume");
  });

  it("stops: the job ends Finished with the exit code the program gave (143 after SIGTERM)", async () => {
    const { body } = await submit(t, { gpus: { count: 1 } });
    const r = await start(agent, body.id);
    const stop = await control(t, body.id, "stop");
    expect(stop.body).toMatchObject({ status: "Running", statusCode: "UserStop" });
    expect(stop.body.statusMessage).toContain("SIGTERM, then SIGKILL after 10 s");
    expect((await agent.take())[0]!.control?.action).toBe("stop");
    await agent.result(r, "ok", { exitCode: 143, stoppedBy: "stop" });
    expect(await job(t, body.id)).toMatchObject({
      status: "Finished",
      exitCode: 143,
      statusCode: "UserStop",
    });
  });

  it("kills: the job ends Killed (137)", async () => {
    const { body } = await submit(t, { gpus: { count: 1 } });
    const r = await start(agent, body.id);
    await control(t, body.id, "kill");
    await agent.take();
    await agent.result(r, "ok", { exitCode: 137, stoppedBy: "kill" });
    expect(await job(t, body.id)).toMatchObject({ status: "Killed", exitCode: 137, statusCode: "UserKill" });
  });

  it("cancels a placed job before it starts: Canceled, its reservation removed, its GPUs back", async () => {
    const small = await gpuAgent(t, 1);
    const { body } = await submit(t, {
      gpus: { count: 1 },
      placementConstraints: [{ name: "device.id", value: small.deviceId }],
    });
    expect(body.statusCode).toBe("Placed");
    expect((await control(t, body.id, "cancel")).body).toMatchObject({
      status: "Canceled",
      statusCode: "UserCancel",
    });
    const feed = await small.take();
    expect(feed.at(-1)).toMatchObject({ toDelete: true });
    const device = (await (
      await t.call("GET", `/api/v1/devices/${small.deviceId}`, { token: t.admin })
    ).json()) as {
      allocated: { gpus: number };
    };
    expect(device.allocated.gpus).toBe(0);
  });
});

describe("GPUs are never given twice", () => {
  it("two jobs racing for one free GPU: one runs, the other waits, then runs when the first ends", async () => {
    const t = await testApp();
    const agent = await gpuAgent(t, 1);
    const [a, b] = await Promise.all([submit(t, { gpus: { count: 1 } }), submit(t, { gpus: { count: 1 } })]);
    const placed = [a.body, b.body].filter((j) => j.statusCode === "Placed");
    const waiting = [a.body, b.body].filter((j) => j.statusCode === "NoCapacity");
    expect(placed).toHaveLength(1);
    expect(waiting).toHaveLength(1);
    const r = await start(agent, placed[0]!.id);
    await agent.result(r, "ok", { exitCode: 0 });
    const next = await job(t, waiting[0]!.id);
    expect(next).toMatchObject({ status: "Pending", statusCode: "Placed" });
    const r2 = await start(agent, next.id);
    expect(JSON.parse(r2.data).gpus).toEqual([0]);
  });

  it("20 single-GPU jobs on 4 GPUs: exactly 4 placed, each on its own GPU", async () => {
    const t = await testApp();
    await gpuAgent(t, 2);
    await gpuAgent(t, 2);
    const jobs = await Promise.all(Array.from({ length: 20 }, () => submit(t, { gpus: { count: 1 } })));
    expect(jobs.filter((j) => j.body.statusCode === "Placed")).toHaveLength(4);
    const held = new Set(jobs.filter((j) => j.body.statusCode === "Placed").map((j) => j.body.statusMessage));
    expect(held.size).toBe(4);
  });

  it("a placement pass asked for while one runs runs once more after it (freed GPUs are not missed)", async () => {
    const t = await testApp();
    t.deps.background = detachedBackground((e) => {
      throw e;
    });
    const agent = await gpuAgent(t, 1);
    const first = await submit(t, { gpus: { count: 1 } });
    const second = await submit(t, { gpus: { count: 1 } });
    expect(second.body.statusCode).toBe("NoCapacity");
    const realList = t.deps.repos.devices.listAll.bind(t.deps.repos.devices);
    let reads = 0;
    t.deps.repos.devices.listAll = async (ws) => {
      const devices = await realList(ws);
      if (++reads === 1) {
        // The pass has read the (full) device; the running job ends and frees its GPU behind its back.
        const r = await start(agent, first.body.id);
        await agent.result(r, "ok", { exitCode: 0 });
      }
      return devices;
    };
    await placePending(t.deps, "default");
    await t.deps.background.drain();
    expect(reads).toBeGreaterThanOrEqual(2);
    expect(await job(t, second.body.id)).toMatchObject({ status: "Pending", statusCode: "Placed" });
  });
});

describe("cancel racing a placement", () => {
  it("removes the reservation a placement made after the cancel read the job", async () => {
    const t = await testApp();
    const waiting = await submit(t, { gpus: { count: 1 } });
    expect(waiting.body).toMatchObject({ status: "Pending", statusCode: "NeverFits" });
    const stale = (await t.deps.repos.jobs.get(waiting.body.id))!;
    // Capacity appears and the job is placed; the cancel's first read still sees it waiting.
    const agent = await gpuAgent(t, 1);
    await placePending(t.deps, "default");
    const placed = (await t.deps.repos.jobs.get(waiting.body.id))!;
    expect(placed.reservationId).toBeDefined();
    const get = t.deps.repos.jobs.get.bind(t.deps.repos.jobs);
    let first = true;
    t.deps.repos.jobs.get = async (id) => {
      if (first) {
        first = false;
        return stale;
      }
      return get(id);
    };
    expect((await control(t, waiting.body.id, "cancel")).body).toMatchObject({ status: "Canceled" });
    const r = await t.deps.repos.reservations.get(placed.deviceId!, placed.reservationId!);
    expect(r?.state).toBe("toDelete");
    expect((await agent.take()).map((x) => [x.id, x.toDelete])).toContainEqual([placed.reservationId, true]);
  });
});
