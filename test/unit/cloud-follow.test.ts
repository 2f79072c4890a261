import { GetLogEventsCommand } from "@aws-sdk/client-cloudwatch-logs";
import { PurgeQueueCommand } from "@aws-sdk/client-sqs";
import { afterEach, describe, expect, it } from "vitest";
import { readSse, type SseEvent } from "../../cli/sse.ts";
import { moveCloud } from "../../shared/domain/cloud-reservation.ts";
import { reconcileCloud } from "../../shared/usecases/cloud/cloud-reconcile.ts";
import { manualClock } from "../helpers/clock.ts";
import { type CloudHarness, cloudHarness } from "../helpers/cloud.ts";
import { fakeKubernetes } from "../helpers/fake-kubernetes.ts";
import { control, job, submit } from "../helpers/jobs.ts";

interface Event {
  type: string;
  message: string;
}

describe("following cloud tasks: events, the reconciler, control and output", () => {
  let h: CloudHarness;
  afterEach(async () => {
    await h?.close();
  });
  /** A cloud job whose task has been launched; returns the job id and the task ARN. */
  const launched = async (body: Record<string, unknown> = {}) => {
    const { body: j } = await submit(h.t, { target: "cloud", gpus: { count: 1 }, ...body });
    await h.drain();
    const arn = [...h.fake.tasks.keys()].at(-1)!;
    return { id: j.id, arn };
  };
  const events = async (id: string) =>
    (
      (await (
        await h.t.call("GET", `/api/v1/jobs/${id}/events?follow=false`, { token: h.t.admin })
      ).json()) as {
        events: Event[];
      }
    ).events.map((e) => e.type);
  const reservation = async (id: string) =>
    (await h.t.deps.repos.cloudReservations.get((await h.t.deps.repos.jobs.get(id))!.cloudReservationId!))!;

  it("runs a job to its end from task events: Running, then Finished with the exit code", async () => {
    h = await cloudHarness();
    const { id, arn } = await launched();
    h.fake.setTask(arn, { lastStatus: "PENDING" });
    await h.events(h.fake.event(arn));
    expect(await job(h.t, id)).toMatchObject({
      status: "Pending",
      statusMessage: expect.stringContaining("is PENDING"),
    });
    h.fake.setTask(arn, { lastStatus: "RUNNING" });
    await h.events(h.fake.event(arn));
    expect(await job(h.t, id)).toMatchObject({ status: "Running", statusCode: "Started" });
    h.fake.setTask(arn, { lastStatus: "STOPPED", stopCode: "EssentialContainerExited", exitCode: 3 });
    await h.events(h.fake.event(arn));
    expect(await job(h.t, id)).toMatchObject({ status: "Finished", statusCode: "Exited", exitCode: 3 });
    expect(await events(id)).toEqual(["accepted", "queued", "launched", "started", "exited"]);
    expect((await reservation(id)).state).toBe("stopped");
  });

  it("drops duplicated and out-of-order events", async () => {
    h = await cloudHarness();
    const { id, arn } = await launched();
    h.fake.setTask(arn, { lastStatus: "PENDING" });
    const pending = h.fake.event(arn);
    h.fake.setTask(arn, { lastStatus: "RUNNING" });
    const running = h.fake.event(arn);
    h.fake.setTask(arn, { lastStatus: "STOPPED", exitCode: 0 });
    const stopped = h.fake.event(arn);
    await h.events(running, running, pending);
    expect((await job(h.t, id)).status).toBe("Running");
    expect((await reservation(id)).taskVersion).toBe(3);
    await h.events(stopped, running, stopped);
    expect((await job(h.t, id)).status).toBe("Finished");
    expect(await events(id)).toEqual(["accepted", "queued", "launched", "started", "exited"]);
  });

  it("applies a batch's events in order: a start and a stop in one batch record the start, even when its read is slow", async () => {
    h = await cloudHarness();
    const { id, arn } = await launched();
    h.fake.setTask(arn, { lastStatus: "RUNNING" });
    const running = h.fake.event(arn);
    h.fake.setTask(arn, { lastStatus: "STOPPED", stopCode: "EssentialContainerExited", exitCode: 0 });
    const stopped = h.fake.event(arn);
    // The first read of the job (the start's) is slow: records handled side by side let the stop overtake it.
    const get = h.t.deps.repos.jobs.get.bind(h.t.deps.repos.jobs);
    let reads = 0;
    h.t.deps.repos.jobs.get = async (jobId) => {
      const j = await get(jobId);
      if (reads++ === 0) await new Promise((r) => setTimeout(r, 100));
      return j;
    };
    const result = await h.events(running, stopped);
    expect(result.batchItemFailures).toEqual([]);
    expect(await job(h.t, id)).toMatchObject({ status: "Finished", exitCode: 0 });
    expect(await events(id)).toEqual(["accepted", "queued", "launched", "started", "exited"]);
  });

  it("acknowledges and ignores events of tasks Berth does not know or did not start", async () => {
    h = await cloudHarness();
    const { arn } = await launched();
    const foreign = JSON.parse(h.fake.event(arn));
    const unknown = { ...foreign, detail: { ...foreign.detail, startedBy: "01m81tsa93f8ffyw297gqps1zz" } };
    const notOurs = { ...foreign, detail: { ...foreign.detail, startedBy: undefined } };
    const result = await h.events(
      JSON.stringify(unknown),
      JSON.stringify(notOurs),
      JSON.stringify({ "detail-type": "ECS Container Instance State Change", source: "aws.ecs", detail: {} }),
      "not json",
    );
    expect(result.batchItemFailures).toEqual([]);
  });

  it("applies an event and the reconciler reporting the same end at once only once", async () => {
    const clock = manualClock(new Date());
    h = await cloudHarness({ clock });
    const { id, arn } = await launched();
    h.fake.setTask(arn, { lastStatus: "RUNNING" });
    await h.events(h.fake.event(arn));
    h.fake.setTask(arn, { lastStatus: "STOPPED", exitCode: 0 });
    clock.advance(301_000);
    await Promise.all([h.events(h.fake.event(arn)), reconcileCloud(h.deps)]);
    expect(await job(h.t, id)).toMatchObject({ status: "Finished", exitCode: 0 });
    expect((await events(id)).filter((e) => e === "exited")).toHaveLength(1);
  });

  it("repairs jobs whose events were lost, and fails one whose task ECS no longer knows (NodeLost)", async () => {
    const clock = manualClock(new Date());
    h = await cloudHarness({ clock });
    const a = await launched();
    const b = await launched();
    h.fake.setTask(a.arn, { lastStatus: "RUNNING" });
    h.fake.setTask(a.arn, { lastStatus: "STOPPED", exitCode: 0 });
    h.fake.tasks.delete(b.arn);
    expect((await reconcileCloud(h.deps)).observed).toBe(0); // not quiet long enough yet
    clock.advance(301_000);
    const report = await reconcileCloud(h.deps);
    expect(report).toMatchObject({ observed: 2, applied: 2 });
    expect(await job(h.t, a.id)).toMatchObject({ status: "Finished", exitCode: 0 });
    expect(await job(h.t, b.id)).toMatchObject({ status: "Failed", statusCode: "NodeLost" });
  });

  it("sends the message again for a launch whose worker died, and gives up after three", async () => {
    const clock = manualClock(new Date());
    h = await cloudHarness({ clock });
    const repo = h.t.deps.repos.cloudReservations;
    const taken = async () => {
      const { body: j } = await submit(h.t, { target: "cloud", gpus: { count: 1 } });
      const r = (await repo.get((await h.t.deps.repos.jobs.get(j.id))!.cloudReservationId!))!;
      // A worker took it (queued → launching) and died; its message is gone.
      await repo.save(r, moveCloud(r, "launching"), clock.now().toISOString());
      await h.sqs.send(new PurgeQueueCommand({ QueueUrl: h.urls.provision }));
      return { id: j.id, r };
    };
    const a = await taken();
    expect((await reconcileCloud(h.deps)).requeued).toBe(0); // not quiet long enough yet
    clock.advance(301_000);
    expect((await reconcileCloud(h.deps)).requeued).toBe(1);
    await h.drain();
    expect((await repo.get(a.r.id))!.state).toBe("launched");
    expect(h.fake.tasks.size).toBe(1);

    const b = await taken();
    await repo.save((await repo.get(b.r.id))!, { requeues: 3 }, clock.now().toISOString());
    clock.advance(301_000);
    expect((await reconcileCloud(h.deps)).requeued).toBe(0);
    expect(await job(h.t, b.id)).toMatchObject({
      status: "Failed",
      statusCode: "ProvisioningFailed",
      statusMessage: expect.stringContaining("no provision worker finished it"),
    });
  });

  it("stops and kills running cloud jobs through StopTask; suspend is not supported", async () => {
    h = await cloudHarness();
    const stopped = await launched();
    h.fake.setTask(stopped.arn, { lastStatus: "RUNNING" });
    await h.events(h.fake.event(stopped.arn));
    expect((await control(h.t, stopped.id, "suspend")).body.error).toMatchObject({
      code: "RequestNotSupported",
    });
    const stop = await control(h.t, stopped.id, "stop");
    expect(stop.body).toMatchObject({ status: "Running", statusCode: "UserStop" });
    expect(stop.body.statusMessage).toContain("StopTask");
    expect(h.fake.state.stopCalls.at(-1)).toEqual({ task: stopped.arn, reason: "stop requested by admin" });
    h.fake.setTask(stopped.arn, { lastStatus: "STOPPED", exitCode: 143 });
    await h.events(h.fake.event(stopped.arn));
    expect(await job(h.t, stopped.id)).toMatchObject({
      status: "Finished",
      statusCode: "UserStop",
      exitCode: 143,
    });

    const killed = await launched();
    h.fake.setTask(killed.arn, { lastStatus: "RUNNING" });
    await h.events(h.fake.event(killed.arn));
    await control(h.t, killed.id, "kill");
    h.fake.setTask(killed.arn, { lastStatus: "STOPPED", exitCode: 137 });
    await h.events(h.fake.event(killed.arn));
    expect(await job(h.t, killed.id)).toMatchObject({
      status: "Killed",
      statusCode: "UserKill",
      exitCode: 137,
    });
  });

  it("kills a cloud job that runs past its maxDuration (the reconciler), ending it Killed (Expired)", async () => {
    const clock = manualClock(new Date());
    h = await cloudHarness({ clock });
    const { id, arn } = await launched({ maxDuration: 600 });
    h.fake.setTask(arn, { lastStatus: "RUNNING", startedAt: clock.now() });
    await h.events(h.fake.event(arn));
    clock.advance(301_000);
    expect((await reconcileCloud(h.deps)).expired).toBe(0);
    clock.advance(400_000);
    expect((await reconcileCloud(h.deps)).expired).toBe(1);
    expect(h.fake.state.stopCalls.at(-1)?.task).toBe(arn);
    h.fake.setTask(arn, { lastStatus: "STOPPED", exitCode: 137 });
    await h.events(h.fake.event(arn));
    expect(await job(h.t, id)).toMatchObject({ status: "Killed", statusCode: "Expired" });
  });

  it("reads a cloud job's output from CloudWatch Logs through the jobs API", async () => {
    h = await cloudHarness();
    const { id, arn } = await launched();
    const out = () => h.t.call("GET", `/api/v1/jobs/${id}/output`, { token: h.t.admin });
    expect(((await (await out()).json()) as { error: { code: string } }).error.code).toBe(
      "JobOutputNotFound",
    );
    h.fake.log(arn, ["epoch 1", "epoch 2", "done"]);
    const body = (await (await out()).json()) as {
      output: { seqId: number; stream: string; data: string }[];
    };
    expect(body.output).toEqual([
      { seqId: 1, stream: "stdout", data: "epoch 1\n" },
      { seqId: 2, stream: "stdout", data: "epoch 2\n" },
      { seqId: 3, stream: "stdout", data: "done\n" },
    ]);
  });

  it("resumes a cloud job's output from the log's own cursor, carried in the event id, without re-reading it", async () => {
    h = await cloudHarness();
    const { id, arn } = await launched();
    h.fake.setTask(arn, { lastStatus: "RUNNING" });
    await h.events(h.fake.event(arn));
    // Windowed follows (a host that buffers, such as the API on Lambda): each answer ends, the follower resumes.
    Object.assign(h.t.deps.config, { followMode: "window", followWindowSeconds: 1 });
    const follow = async (headers: Record<string, string> = {}) => {
      const res = await h.t.call("GET", `/api/v1/jobs/${id}/output?follow=true`, {
        token: h.t.admin,
        headers,
      });
      const events: SseEvent[] = [];
      for await (const e of readSse(res.body!)) events.push(e);
      return events;
    };
    const lines = (events: SseEvent[]) =>
      events.filter((e) => e.event === "output").map((e) => (JSON.parse(e.data) as { data: string }).data);
    h.fake.log(arn, ["epoch 1", "epoch 2", "epoch 3"]);
    const first = await follow();
    expect(lines(first)).toEqual(["epoch 1\n", "epoch 2\n", "epoch 3\n"]);
    expect(first.at(-1)?.event).toBe("continue");
    const last = first.filter((e) => e.event === "output").at(-1)!.id!;
    expect(last).toBe(`3~${Buffer.from("f/3").toString("base64url")}`);

    h.fake.log(arn, ["epoch 1", "epoch 2", "epoch 3", "epoch 4"]);
    const reads = h.fake.logs.commandCalls(GetLogEventsCommand).length;
    const resumed = await follow({ "last-event-id": last });
    expect(lines(resumed)).toEqual(["epoch 4\n"]);
    // Read on from the log's cursor: no read from the head again.
    const calls = h.fake.logs.commandCalls(GetLogEventsCommand).slice(reads);
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.every((c) => c.args[0].input.nextToken !== undefined)).toBe(true);
    // A plain position (no log cursor) still works: the log is read from its start, the sent lines skipped.
    expect(lines(await follow({ "last-event-id": "2" }))).toEqual(["epoch 3\n", "epoch 4\n"]);
    // A log cursor the log service refuses (altered by the follower): read from the start, nothing lost.
    const forged = `3~${Buffer.from("garbage").toString("base64url")}`;
    expect(lines(await follow({ "last-event-id": forged }))).toEqual(["epoch 4\n"]);
  });

  it("runs a job of an EKS profile as a Kubernetes Job, followed by the reconciler to its exit code", async () => {
    const k8s = await fakeKubernetes();
    const env = { ...process.env };
    process.env.AWS_ACCESS_KEY_ID = "AKIDEXAMPLE";
    process.env.AWS_SECRET_ACCESS_KEY = "secret";
    try {
      const clock = manualClock(new Date());
      h = await cloudHarness({ clock, eks: { endpoint: k8s.url, caData: k8s.caData } });
      const created = await h.t.call("POST", "/api/v1/profiles", {
        token: h.t.admin,
        body: { name: "k8s", gpus: { count: 1 }, cloudLauncher: "eks" },
      });
      expect(created.status).toBe(201);
      const { body: j } = await submit(h.t, { target: "cloud", resourceProfile: "k8s", gpus: undefined });
      expect(j.statusMessage).toBe("queued for EKS GPU capacity");
      await h.drain();
      expect(h.fake.state.runTaskCalls).toBe(0);
      const name = [...k8s.jobs.keys()][0]!.split("/")[1]!;
      expect(name).toMatch(/^res-[0-9a-z]{26}-1$/);
      expect(k8s.requests[0]!.authorization).toMatch(/^Bearer k8s-aws-v1\./);
      k8s.setPod("berth", name, { running: { startedAt: clock.now().toISOString() } });
      clock.advance(301_000);
      await reconcileCloud(h.deps);
      expect(await job(h.t, j.id)).toMatchObject({
        status: "Running",
        statusMessage: `running on EKS task ${name}`,
      });
      k8s.setPod("berth", name, { terminated: { exitCode: 0, reason: "Completed" } }, "Succeeded");
      k8s.setJob("berth", name, { conditions: [{ type: "Complete", status: "True" }] });
      clock.advance(301_000);
      await reconcileCloud(h.deps);
      expect(await job(h.t, j.id)).toMatchObject({ status: "Finished", exitCode: 0 });
    } finally {
      process.env = env;
      await k8s.close();
    }
  });
});
