import { beforeAll, describe, expect, it } from "vitest";
import { errorOf, type TestApp, testApp } from "../helpers/app.ts";
import { snapshot } from "../helpers/db.ts";
import { control, type GpuAgent, gpuAgent, job, start, submit } from "../helpers/jobs.ts";

describe("POST /api/v1/jobs", () => {
  let t: TestApp;
  let agent: GpuAgent;
  beforeAll(async () => {
    t = await testApp();
    agent = await gpuAgent(t, 4);
  });

  it("accepts a job (201), records the key's name as its user, and places it on a device", async () => {
    const { status, body } = await submit(t, {
      name: "train",
      gpus: { count: 2 },
      tags: ["exp-1"],
      user: "somebody-else",
    });
    expect(status).toBe(201);
    expect(body).toMatchObject({
      name: "train",
      user: "admin",
      status: "Pending",
      statusCode: "Placed",
      host: expect.any(String),
    });
    expect(body.statusMessage).toMatch(/^placed on .* \(GPU 0, 1\)$/);
    for (const internal of [
      "workspaceId",
      "version",
      "deviceId",
      "reservationId",
      "allocatedGpus",
      "quotaHeld",
    ]) {
      expect(body).not.toHaveProperty(internal);
    }
    const [r] = await agent.take();
    expect(r).toMatchObject({ type: "process" });
    expect(JSON.parse(r!.data)).toMatchObject({ argv: ["python", "train.py"], gpus: [0, 1] });
  });

  it("runs `command` through a shell with the args after it", async () => {
    await submit(t, { exe: undefined, command: "echo $0 $1", args: ["a", "b"] });
    const [r] = await agent.take();
    expect(JSON.parse(r!.data).argv).toEqual(["/bin/sh", "-c", 'echo $0 $1 "$@"', "sh", "a", "b"]);
  });

  it("runs a `command` without args as it is (one ending in `done` stays valid shell)", async () => {
    const command = "for i in 1 2; do echo $i; done";
    await submit(t, { exe: undefined, command, args: [] });
    const [r] = await agent.take();
    const argv = JSON.parse(r!.data).argv as string[];
    expect(argv).toEqual(["/bin/sh", "-c", command, "sh"]);
    const { execFileSync } = await import("node:child_process");
    expect(execFileSync(argv[0]!, argv.slice(1), { encoding: "utf8" })).toBe("1\n2\n");
  });

  it("makes a container reservation for a job with an image, parsing mount and port specs", async () => {
    const { status } = await submit(t, {
      container: { image: "nvcr.io/nvidia/pytorch:24.05-py3", runAsUserId: 1000 },
      mounts: [
        "/data:/data:ro",
        { mountPath: "/scratch", mountSource: { type: "host", source: { path: "/mnt/scratch" } } },
      ],
      exposedPorts: ["8888:8888", "6006/udp"],
      environment: ["WANDB_MODE=offline", { name: "A", value: "1" }],
    });
    expect(status).toBe(201);
    const [r] = await agent.take();
    expect(r!.type).toBe("container");
    expect(JSON.parse(r!.data)).toMatchObject({
      image: "nvcr.io/nvidia/pytorch:24.05-py3",
      env: { WANDB_MODE: "offline", A: "1" },
      mounts: [
        { source: "/data", target: "/data", readOnly: true },
        { source: "/mnt/scratch", target: "/scratch", readOnly: false },
      ],
      ports: [
        { containerPort: 8888, protocol: "tcp" },
        { containerPort: 6006, protocol: "udp" },
      ],
      user: "1000",
    });
  });

  describe("bad input is a 400 and creates nothing", () => {
    const rejected = async (body: Record<string, unknown>) => {
      const before = await snapshot(t.db);
      const res = await t.call("POST", "/api/v1/jobs", { token: t.admin, body });
      expect(await snapshot(t.db)).toBe(before);
      return errorOf(res);
    };

    it("both command and exe", async () => {
      const err = await rejected({ command: "ls", exe: "ls" });
      expect(err).toMatchObject({
        status: 400,
        code: "InvalidRequest",
        details: [{ path: "exe", message: "give command or exe, not both" }],
      });
    });

    it("neither command nor exe", async () => {
      expect(await rejected({ args: ["x"] })).toMatchObject({ status: 400, details: [{ path: "command" }] });
    });

    it.each([
      [{ exe: "x", mounts: ["data:/data"] }, 'invalid mount path: "data"'],
      [{ exe: "x", container: { image: "i" }, mounts: ["/a:/b:rx"] }, 'invalid mount spec: "/a:/b:rx"'],
      [{ exe: "x", container: { image: "i" }, exposedPorts: ["1:2:3"] }, 'invalid port spec: "1:2:3"'],
      [{ exe: "x", container: { image: "i" }, exposedPorts: ["http"] }, 'invalid port: "http"'],
      [{ exe: "x", environment: ["A=b=c"] }, 'invalid env spec: "A=b=c"'],
      [{ exe: "x", environment: ["=x"] }, 'invalid env spec: "=x"'],
    ])("a bad spec string %o → %s", async (body, message) => {
      const err = await rejected(body);
      expect(err.status).toBe(400);
      expect(err.message).toContain(message);
    });

    it("mounts or ports without a container image", async () => {
      expect(await rejected({ exe: "x", mounts: ["/data"] })).toMatchObject({
        status: 400,
        details: [{ path: "container" }],
      });
    });

    it("an unknown profile, naming the valid ones", async () => {
      await t.call("POST", "/api/v1/profiles", {
        token: t.admin,
        body: { name: "small", gpus: { count: 1 } },
      });
      const err = await rejected({ exe: "x", resourceProfile: "huge" });
      expect(err).toMatchObject({ status: 400, code: "InvalidRequest" });
      expect(err.message).toBe('unknown resourceProfile "huge"; valid: custom, small');
    });

    it("a cloud target on a control plane without cloud capacity", async () => {
      expect(await rejected({ exe: "x", target: "cloud" })).toMatchObject({
        status: 400,
        code: "RequestNotSupported",
        message: expect.stringContaining("cloud capacity is not configured"),
      });
    });

    it("a secret that does not exist (the rest: job-secrets.test.ts)", async () => {
      expect(await rejected({ exe: "x", secrets: [{ name: "s", env: "S" }] })).toMatchObject({
        status: 400,
        code: "InvalidRequest",
        message: "secrets[0]: secret s not found in namespace default",
      });
    });

    it("a GPU count that is not a whole number, or too large", async () => {
      expect(await rejected({ exe: "x", gpus: { count: 1.5 } })).toMatchObject({
        status: 400,
        details: [{ path: "gpus.count" }],
      });
      expect(await rejected({ exe: "x", gpus: { count: 65 } })).toMatchObject({ status: 400 });
    });
  });

  it("keeps a job that no device can ever fit pending, saying so", async () => {
    const { body } = await submit(t, { gpus: { count: 16 } });
    expect(body).toMatchObject({ status: "Pending", statusCode: "NeverFits" });
    expect(body.statusMessage).toContain("no device in the workspace can ever run this job (16 GPUs)");
  });

  it("applies a profile's GPUs, queue and constraints", async () => {
    await t.call("POST", "/api/v1/node-groups", { token: t.admin, body: { name: "big" } });
    await t.call("POST", "/api/v1/profiles", {
      token: t.admin,
      body: {
        name: "large",
        gpus: { count: 4 },
        queue: "big",
        placementConstraints: [{ name: "tier", value: "gold" }],
      },
    });
    const { body } = await submit(t, { resourceProfile: "large" });
    expect(body).toMatchObject({ resourceProfile: "large", gpus: { count: 4 }, queues: ["big"] });
    expect(body.placementConstraints).toEqual([{ name: "tier", value: "gold" }]);
    expect(body.statusCode).toBe("NeverFits");
  });

  it("refuses a profile whose queue is no node group of the workspace, and stores nothing", async () => {
    const created = await t.call("POST", "/api/v1/profiles", {
      token: t.admin,
      body: { name: "lost", gpus: { count: 1 }, queue: "nowhere" },
    });
    expect(await errorOf(created)).toMatchObject({
      status: 400,
      code: "InvalidRequest",
      message: expect.stringContaining("queue nowhere: no such node group in this workspace"),
    });
    expect((await t.call("GET", "/api/v1/profiles/lost", { token: t.admin })).status).toBe(404);
    await t.call("POST", "/api/v1/profiles", { token: t.admin, body: { name: "found", gpus: { count: 1 } } });
    const updated = await t.call("PATCH", "/api/v1/profiles/found", {
      token: t.admin,
      body: { queue: "nowhere" },
    });
    expect((await errorOf(updated)).status).toBe(400);
    expect(
      (
        (await (await t.call("GET", "/api/v1/profiles/found", { token: t.admin })).json()) as {
          queue?: string;
        }
      ).queue,
    ).toBeUndefined();
  });

  it("answers another workspace's job with 404 JobNotFound", async () => {
    const { body } = await submit(t, {});
    const other = await t.workspace("jobs-other");
    for (const [method, path, payload] of [
      ["GET", `/api/v1/jobs/${body.id}`, undefined],
      ["POST", `/api/v1/jobs/${body.id}/control`, { operation: "cancel" }],
      ["GET", `/api/v1/jobs/${body.id}/output`, undefined],
      ["GET", `/api/v1/jobs/${body.id}/events?follow=false`, undefined],
    ] as const) {
      expect(await errorOf(await t.call(method, path, { token: other, body: payload }))).toMatchObject({
        status: 404,
        code: "JobNotFound",
      });
    }
  });

  it("hides other users' jobs from a member key", async () => {
    const { body } = await submit(t, {});
    const member = await t.key("member");
    expect((await t.call("GET", `/api/v1/jobs/${body.id}`, { token: member })).status).toBe(404);
    const mine = await submit(t, {}, member);
    expect(mine.body.user).toBe("member-key");
    expect((await job(t, mine.body.id, member)).id).toBe(mine.body.id);
  });

  it("keeps a name unique among a user's jobs that have not ended: 409 naming the holder, nothing stored; free again once it ends", async () => {
    const fresh = await testApp();
    const first = await submit(fresh, { name: "nightly" });
    expect(first.status).toBe(201);
    const before = await snapshot(fresh.db);
    const again = await submit(fresh, { name: "nightly" });
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({ code: "Conflict", details: { jobId: first.body.id } });
    expect(again.body.error!.message).toContain(`named "nightly" has not ended (${first.body.id}, Pending)`);
    expect(await snapshot(fresh.db)).toBe(before);
    // Another key may use it (even one of the same name); so may jobs without a name, any number of them.
    const member = await fresh.key("member");
    expect((await submit(fresh, { name: "nightly" }, member)).status).toBe(201);
    expect((await submit(fresh, { name: "nightly" }, await fresh.key("member"))).status).toBe(201);
    expect((await submit(fresh, {})).status).toBe(201);
    expect((await submit(fresh, {})).status).toBe(201);
    // Racing submits of one name: exactly one is stored.
    const raced = await Promise.all(Array.from({ length: 5 }, () => submit(fresh, { name: "raced" })));
    expect(raced.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409]);
    await control(fresh, first.body.id, "cancel");
    expect((await job(fresh, first.body.id)).status).toBe("Canceled");
    const next = await submit(fresh, { name: "nightly" });
    expect(next.status).toBe(201);
    expect(next.body.id).not.toBe(first.body.id);
  });

  it("takes over a name claimed by a job that has ended or is gone (a claim left behind)", async () => {
    const fresh = await testApp();
    const { repos } = fresh.deps;
    const first = await submit(fresh, { name: "old" });
    const mine = (await repos.jobs.get(first.body.id))!;
    await control(fresh, first.body.id, "cancel");
    const ghost = { ...mine, id: "01kghost0000000000000000000" };
    expect((await repos.commit([repos.jobs.claimName(ghost)])).ok).toBe(true);
    const taken = await submit(fresh, { name: "old" });
    expect(taken.status).toBe(201);
    expect(await repos.jobs.nameHolder(mine)).toBe(taken.body.id);
  });

  it("owns a job by the key that submitted it, not its name: a second key named alike sees and controls nothing", async () => {
    const bob = await t.key("member");
    const otherBob = await t.key("member"); // the same name, "member-key"
    const { body } = await submit(t, {}, bob);
    expect(body.user).toBe("member-key");
    expect(body).not.toHaveProperty("ownerKeyId");
    for (const [method, path, payload] of [
      ["GET", `/api/v1/jobs/${body.id}`, undefined],
      ["GET", `/api/v1/jobs/${body.id}/output`, undefined],
      ["GET", `/api/v1/jobs/${body.id}/events?follow=false`, undefined],
      ["POST", `/api/v1/jobs/${body.id}/control`, { operation: "cancel" }],
    ] as const) {
      expect(await errorOf(await t.call(method, path, { token: otherBob, body: payload }))).toMatchObject({
        status: 404,
        code: "JobNotFound",
      });
    }
    const listed = async (token: string, query = "") =>
      (
        (await (await t.call("GET", `/api/v1/jobs${query}`, { token })).json()) as { items: { id: string }[] }
      ).items.map((j) => j.id);
    expect(await listed(otherBob)).not.toContain(body.id);
    expect(await listed(otherBob, "?user=member-key")).not.toContain(body.id);
    expect(await listed(bob)).toContain(body.id);
    expect(await listed(t.admin, "?user=member-key")).toContain(body.id);
    expect((await job(t, body.id)).status).not.toBe("Canceled");
  });

  it("reports status through the job's life: Pending → Running → Finished with its exit code", async () => {
    const t2 = await testApp();
    const small = await gpuAgent(t2, 1);
    const { body } = await submit(t2, { gpus: { count: 1 } });
    const r = await start(small, body.id);
    expect(await job(t2, body.id)).toMatchObject({ status: "Running", pid: 4242, statusCode: "Started" });
    await small.result(r, "ok", { exitCode: 3 });
    expect(await job(t2, body.id)).toMatchObject({
      status: "Finished",
      exitCode: 3,
      statusCode: "Exited",
      statusMessage: "exited with code 3",
    });
  });
});
