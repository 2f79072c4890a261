import { afterEach, describe, expect, it } from "vitest";
import type { CloudReservation } from "../../shared/domain/cloud-reservation.ts";
import { isTransition } from "../../shared/domain/state-machine.ts";
import { failProvisioning } from "../../shared/usecases/cloud/provision.ts";
import { type CloudHarness, cloudHarness } from "../helpers/cloud.ts";
import { snapshot } from "../helpers/db.ts";
import { control, gpuAgent, job, submit } from "../helpers/jobs.ts";

describe("cloud hand-off and the provision worker", () => {
  let h: CloudHarness;
  afterEach(async () => {
    await h?.close();
  });
  const reservationOf = async (jobId: string): Promise<CloudReservation> => {
    const j = await h.t.deps.repos.jobs.get(jobId);
    return (await h.t.deps.repos.cloudReservations.get(j!.cloudReservationId!))!;
  };
  const cloudJob = async (body: Record<string, unknown> = {}) => {
    const { status, body: j } = await submit(h.t, { target: "cloud", gpus: { count: 1 }, ...body });
    expect(status).toBe(201);
    return j;
  };

  it("queues a cloud job (Queued), and the worker launches one ECS task for it (Provisioning)", async () => {
    h = await cloudHarness();
    const j = await cloudJob({
      gpus: { count: 2, type: "A10G" },
      container: { image: "nvcr.io/nvidia/pytorch:24.05-py3" },
    });
    expect(j).toMatchObject({ status: "Pending", statusCode: "Queued", host: "cloud" });
    expect(j.statusMessage).toBe("queued for ECS GPU capacity");
    const r = await reservationOf(j.id);
    expect(r).toMatchObject({ state: "queued", attempt: 1, launcher: "ecs" });
    const { handled, failed } = await h.drain();
    expect(handled.map((b) => JSON.parse(b))).toEqual([{ reservationId: r.id, attempt: 1 }]);
    expect(failed).toEqual([]);
    expect(h.fake.tasks.size).toBe(1);
    const launched = await reservationOf(j.id);
    expect(launched).toMatchObject({
      state: "launched",
      task: { launcher: "ecs" },
      lastStatus: "PROVISIONING",
    });
    expect(await job(h.t, j.id)).toMatchObject({
      status: "Pending",
      statusCode: "Provisioning",
      statusMessage: expect.stringMatching(/^ECS task [0-9a-f]+ is PROVISIONING: waiting for an instance$/),
    });
    const [task] = h.fake.tasks.values();
    expect(task!.startedBy).toBe(r.id);
    expect(task!.overrides?.containerOverrides?.[0]).toMatchObject({
      command: ["python", "train.py"],
      resourceRequirements: [{ type: "GPU", value: "2" }],
    });
  });

  it("starts exactly one task for a message delivered twice, and for one delivered twice at once", async () => {
    h = await cloudHarness();
    const a = await cloudJob();
    const b = await cloudJob();
    const body = (r: CloudReservation) => JSON.stringify({ reservationId: r.id, attempt: r.attempt });
    const ra = await reservationOf(a.id);
    const rb = await reservationOf(b.id);
    await h.send(body(ra)); // a duplicate on the queue
    await h.drain();
    await h.drain();
    await Promise.all([h.deliver(body(rb)), h.deliver(body(rb)), h.deliver(body(rb))]);
    expect(h.fake.tasksPerReservation()).toEqual(
      new Map([
        [ra.id, 1],
        [rb.id, 1],
      ]),
    );
    expect((await reservationOf(b.id)).state).toBe("launched");
  });

  it("finds the same task again when the worker died after RunTask and before recording it", async () => {
    h = await cloudHarness();
    const j = await cloudJob();
    const repo = h.t.deps.repos.cloudReservations;
    const save = repo.save.bind(repo);
    let crashed = false;
    repo.save = async (current, change, at) => {
      if (isTransition(change) && change.to === "launched" && !crashed) {
        crashed = true;
        throw new Error("the worker's container was frozen");
      }
      return save(current, change, at);
    };
    expect((await h.drain()).failed).toHaveLength(1);
    expect(h.fake.tasks.size).toBe(1);
    expect((await reservationOf(j.id)).state).toBe("launching");
    expect((await h.drain()).failed).toEqual([]); // redelivered after its visibility timeout
    expect(h.fake.state.runTaskCalls).toBe(2);
    expect(h.fake.tasks.size).toBe(1);
    const r = await reservationOf(j.id);
    expect(r.state).toBe("launched");
    expect(r.task!.id).toBe([...h.fake.tasks.keys()][0]);
  });

  it("retries a throttled RunTask (the message comes back) and then launches", async () => {
    h = await cloudHarness();
    const j = await cloudJob();
    h.fake.state.throttle = 1;
    expect((await h.drain()).failed).toHaveLength(1);
    expect((await job(h.t, j.id)).status).toBe("Pending");
    expect((await h.drain()).failed).toHaveLength(0);
    expect((await reservationOf(j.id)).state).toBe("launched");
    expect(h.fake.tasks.size).toBe(1);
  });

  it("tries again later with a fresh attempt when there is no GPU capacity, then fails the job (NoCapacity)", async () => {
    h = await cloudHarness({ settings: { capacityRetries: 1, capacityRetryBaseSeconds: 1 } });
    const j = await cloudJob();
    h.fake.state.noCapacity = 5;
    await h.drain();
    const retry = await reservationOf(j.id);
    expect(retry).toMatchObject({
      state: "queued",
      attempt: 2,
      capacityRetries: 1,
      reason: "RESOURCE:GPU: no container instance has a free GPU",
    });
    expect(await job(h.t, j.id)).toMatchObject({
      status: "Pending",
      statusCode: "NoCapacity",
      statusMessage: expect.stringContaining("trying again in 1 s (1 of 1)"),
    });
    expect((await h.drain()).handled).toEqual([]); // delayed: not visible yet
    const later = await h.drain(3);
    expect(later.handled.map((b) => JSON.parse(b))).toEqual([{ reservationId: retry.id, attempt: 2 }]);
    expect(await job(h.t, j.id)).toMatchObject({
      status: "Failed",
      statusCode: "NoCapacity",
      statusMessage: expect.stringContaining("no GPU capacity in the cloud after 2 tries"),
    });
    expect((await reservationOf(j.id)).state).toBe("failed");
    expect(h.fake.tasks.size).toBe(0);
    const quota = (await (await h.t.call("GET", "/api/v1/quotas", { token: h.t.admin })).json()) as {
      use: { gpus: number; runningJobs: number };
    };
    expect(quota.use).toMatchObject({ gpus: 0, runningJobs: 0 });
  });

  it("fails the job with the reason when ECS rejects the launch, and acknowledges the message", async () => {
    h = await cloudHarness();
    const j = await cloudJob();
    h.fake.state.reject = "No Container Instances were found in your capacity provider";
    expect((await h.drain()).failed).toEqual([]);
    expect(await job(h.t, j.id)).toMatchObject({
      status: "Failed",
      statusCode: "LaunchFailed",
      statusMessage: expect.stringContaining("No Container Instances were found"),
    });
  });

  it("fails the job (ProvisioningFailed) on the last receive of a message that always fails; it goes to the DLQ", async () => {
    h = await cloudHarness();
    const j = await cloudJob();
    h.fake.state.throttle = 1000;
    for (let i = 1; i <= 5; i++) {
      expect((await h.drain()).failed).toHaveLength(1);
      if (i < 5) expect((await job(h.t, j.id)).status).toBe("Pending");
    }
    expect(await job(h.t, j.id)).toMatchObject({
      status: "Failed",
      statusCode: "ProvisioningFailed",
      statusMessage: expect.stringContaining("tried 5 times"),
    });
    expect((await h.drain()).handled).toEqual([]); // the sixth receive moves it to the dead-letter queue
    expect(await h.dlqDepth()).toBe(1);
  });

  it("withdraws a job canceled while queued: nothing is launched", async () => {
    h = await cloudHarness();
    const j = await cloudJob();
    expect((await control(h.t, j.id, "cancel")).body).toMatchObject({ status: "Canceled" });
    expect((await reservationOf(j.id)).state).toBe("canceled");
    await h.drain();
    expect(h.fake.state.runTaskCalls).toBe(0);
  });

  it("stops the task of a job canceled while its launch was under way", async () => {
    h = await cloudHarness();
    const j = await cloudJob();
    h.fake.state.duringRunTask = async () => {
      h.fake.state.duringRunTask = undefined;
      expect((await control(h.t, j.id, "cancel")).body).toMatchObject({ status: "Canceled" });
    };
    await h.drain();
    const r = await reservationOf(j.id);
    expect(r).toMatchObject({
      state: "stopping",
      controlRequested: "kill",
      task: { id: [...h.fake.tasks.keys()][0] },
    });
    expect(h.fake.state.stopCalls).toEqual([
      { task: r.task!.id, reason: "the job was canceled while it was launching" },
    ]);
    h.fake.setTask(r.task!.id, { lastStatus: "STOPPED", stoppedReason: "Task stopped by user" });
    await h.events(h.fake.event(r.task!.id));
    expect((await reservationOf(j.id)).state).toBe("stopped");
    expect((await job(h.t, j.id)).status).toBe("Canceled");
  });

  it("stops the task of a launch that lands after its reservation failed (failed → stopping)", async () => {
    h = await cloudHarness();
    const j = await cloudJob();
    // While RunTask is under way, the reconciler gives up on the reservation (its worker looked dead).
    h.fake.state.duringRunTask = async () => {
      h.fake.state.duringRunTask = undefined;
      const r = await reservationOf(j.id);
      await failProvisioning(h.deps, r.id, "no provision worker finished it");
    };
    await h.drain();
    expect(await job(h.t, j.id)).toMatchObject({ status: "Failed", statusCode: "ProvisioningFailed" });
    const r = await reservationOf(j.id);
    expect(r).toMatchObject({
      state: "stopping",
      controlRequested: "kill",
      task: { id: [...h.fake.tasks.keys()][0] },
    });
    expect(h.fake.state.stopCalls).toHaveLength(1);
    h.fake.setTask(r.task!.id, { lastStatus: "STOPPED", stoppedReason: "Task stopped by user" });
    await h.events(h.fake.event(r.task!.id));
    expect((await reservationOf(j.id)).state).toBe("stopped");
    // The job stays as it ended: failed, not re-ended by its task's stop.
    expect(await job(h.t, j.id)).toMatchObject({ status: "Failed", statusCode: "ProvisioningFailed" });
  });

  it("sends auto jobs to the cloud only when the fleet has no room, and keeps what the cloud cannot run on the fleet", async () => {
    h = await cloudHarness();
    await gpuAgent(h.t, 1);
    const onFleet = await submit(h.t, { target: "auto", gpus: { count: 1 } });
    expect(onFleet.body).toMatchObject({ statusCode: "Placed" });
    const overflow = await submit(h.t, { target: "auto", gpus: { count: 1 } });
    expect(overflow.body).toMatchObject({ statusCode: "Queued", host: "cloud" });
    expect(overflow.body.statusMessage).toContain("no room on the fleet");
    const withMount = await submit(h.t, {
      target: "auto",
      gpus: { count: 1 },
      container: { image: "x" },
      mounts: ["/data:/data"],
    });
    expect(withMount.body).toMatchObject({ statusCode: "NoCapacity" });
  });

  it("refuses at submit what the cloud cannot run, storing nothing", async () => {
    h = await cloudHarness();
    const before = await snapshot(h.t.db);
    const res = await submit(h.t, { target: "cloud", container: { image: "x" }, mounts: ["/data:/data"] });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({
      code: "RequestNotSupported",
      message: expect.stringContaining("host mounts"),
    });
    expect(await snapshot(h.t.db)).toBe(before);
  });

  it("enqueues again a hand-off whose message was lost (the sweeper)", async () => {
    const { manualClock } = await import("../helpers/clock.ts");
    const clock = manualClock(new Date());
    h = await cloudHarness({ clock });
    const send = h.deps.cloud.queue.send;
    h.deps.cloud.queue.send = async () => {
      throw new Error("SQS unavailable");
    };
    const j = await cloudJob();
    h.deps.cloud.queue.send = send;
    expect((await h.drain()).handled).toEqual([]);
    const { requeueQueued } = await import("../../shared/usecases/cloud/cloud-reconcile.ts");
    expect(await requeueQueued(h.deps)).toBe(0); // not quiet long enough yet
    clock.advance(61_000);
    expect(await requeueQueued(h.deps)).toBe(1);
    expect(await requeueQueued(h.deps)).toBe(0); // touched: not again at once
    await h.drain();
    expect((await reservationOf(j.id)).state).toBe("launched");
  });
});
