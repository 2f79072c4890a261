import { beforeAll, describe, expect, it } from "vitest";
import { errorOf, type TestApp, testApp } from "../helpers/app.ts";
import { manualClock } from "../helpers/clock.ts";
import { snapshot } from "../helpers/db.ts";
import { control, type GpuAgent, gpuAgent, type JobView, start, submit } from "../helpers/jobs.ts";

describe("GET /api/v1/jobs (jobs.md §4)", () => {
  const clock = manualClock(new Date("2026-11-01T10:00:00.000Z"));
  let t: TestApp;
  const ids: Record<string, string> = {};
  beforeAll(async () => {
    t = await testApp({ clock });
    const agent = await gpuAgent(t, 0);
    for (const [name, tags, at] of [
      ["a", ["x", "y"], "2026-11-01T10:00:00.000Z"],
      ["b", ["x"], "2026-11-01T11:00:00.000Z"],
      ["c", ["y"], "2026-11-01T12:00:00.000Z"],
    ] as const) {
      clock.set(new Date(at));
      ids[name] = (await submit(t, { name, tags: [...tags] })).body.id;
    }
    const r = await start(agent, ids.a!);
    await agent.result(r, "ok", { exitCode: 0 });
    await start(agent, ids.b!);
  });

  const names = async (query: string, token = t.admin) => {
    const res = await t.call("GET", `/api/v1/jobs${query}`, { token });
    expect(res.status).toBe(200);
    return ((await res.json()) as { items: JobView[] }).items.map((j) => j.name).sort();
  };

  it("uses inclusive time bounds on submissionTime", async () => {
    expect(await names("?startTime=2026-11-01T11:00:00Z&endTime=2026-11-01T12:00:00Z")).toEqual(["b", "c"]);
    expect(await names("?endTime=2026-11-01T11:00:00Z")).toEqual(["a", "b"]);
    expect(await names("?startTime=2026-11-01T11:00:00.001Z")).toEqual(["c"]);
  });

  it("keeps jobs in any of the statuses, and with every one of the tags", async () => {
    expect(await names("?statuses=Finished,Running")).toEqual(["a", "b"]);
    expect(await names("?statuses=Pending&statuses=Finished")).toEqual(["a", "c"]);
    expect(await names("?tags=x")).toEqual(["a", "b"]);
    expect(await names("?tags=x,y")).toEqual(["a"]);
    expect(await names("?tags=x&statuses=Running")).toEqual(["b"]);
  });

  it("lists newest first with order=desc, page after page; refuses another order with 400", async () => {
    const order = async (query: string) =>
      (await (await t.call("GET", `/api/v1/jobs${query}`, { token: t.admin })).json()) as {
        items: JobView[];
        nextPageToken?: string;
      };
    const first = await order("?order=desc&pageSize=2");
    expect(first.items.map((j) => j.name)).toEqual(["c", "b"]);
    const rest = await order(`?order=desc&pageSize=2&pageToken=${first.nextPageToken}`);
    expect(rest.items.map((j) => j.name)).toEqual(["a"]);
    // A page token is bound to its order: the other order does not continue it.
    expect(
      (await t.call("GET", `/api/v1/jobs?pageSize=2&pageToken=${first.nextPageToken}`, { token: t.admin }))
        .status,
    ).toBe(400);
    expect(
      await errorOf(await t.call("GET", "/api/v1/jobs?order=sideways", { token: t.admin })),
    ).toMatchObject({
      status: 400,
      code: "InvalidRequest",
      message: expect.stringContaining("order must be asc (oldest first) or desc (newest first)"),
    });
  });

  it("projects fields, always keeping id, ignoring unknown names", async () => {
    const res = await t.call("GET", "/api/v1/jobs?fields=status,nosuch", { token: t.admin });
    const items = ((await res.json()) as { items: Record<string, unknown>[] }).items;
    expect(items).toHaveLength(3);
    for (const item of items) expect(Object.keys(item).sort()).toEqual(["id", "status"]);
  });

  it("shows one's own jobs by default; an admin may ask for a user or for * (all)", async () => {
    const member = await t.key("member");
    await submit(t, { name: "mine" }, member);
    expect(await names("", member)).toEqual(["mine"]);
    expect(await names("")).toEqual(["a", "b", "c"]);
    expect(await names("?user=*")).toEqual(["a", "b", "c", "mine"]);
    expect(await names("?user=member-key")).toEqual(["mine"]);
    expect((await errorOf(await t.call("GET", "/api/v1/jobs?user=admin", { token: member }))).status).toBe(
      403,
    );
  });

  it.each([
    ["?statuses=Done", "statuses"],
    ["?startTime=yesterday", "startTime"],
  ])("400 for %s", async (query, path) => {
    expect(await errorOf(await t.call("GET", `/api/v1/jobs${query}`, { token: t.admin }))).toMatchObject({
      status: 400,
      details: [{ path }],
    });
  });
});

describe("job output and events", () => {
  let t: TestApp;
  let agent: GpuAgent;
  beforeAll(async () => {
    t = await testApp();
    agent = await gpuAgent(t, 1);
  });

  const sendOutput = (id: string, chunks: { stream: string; seq: number; data: string }[]) =>
    t.call("POST", `/api/v1/agent/reservations/${id}/output`, { token: agent.session, body: { chunks } });

  it("answers 404 JobOutputNotFound before there is any output", async () => {
    const { body } = await submit(t, {});
    expect(
      await errorOf(await t.call("GET", `/api/v1/jobs/${body.id}/output`, { token: t.admin })),
    ).toMatchObject({
      status: 404,
      code: "JobOutputNotFound",
    });
    const r = await start(agent, body.id);
    expect(
      (await errorOf(await t.call("GET", `/api/v1/jobs/${body.id}/output`, { token: t.admin }))).code,
    ).toBe("JobOutputNotFound");
    await agent.result(r, "ok", { exitCode: 0 });
  });

  it("returns the output in order, numbered from 1 per request, by stream", async () => {
    const { body } = await submit(t, {});
    const r = await start(agent, body.id);
    await sendOutput(r.id, [
      { stream: "stdout", seq: 1, data: "a\n" },
      { stream: "stderr", seq: 2, data: "warn\n" },
      { stream: "stdout", seq: 3, data: "b\n" },
    ]);
    const all = (await (
      await t.call("GET", `/api/v1/jobs/${body.id}/output`, { token: t.admin })
    ).json()) as {
      output: { seqId: number; stream: string; data: string }[];
      complete: boolean;
    };
    expect(all).toEqual({
      output: [
        { seqId: 1, stream: "stdout", data: "a\n" },
        { seqId: 2, stream: "stderr", data: "warn\n" },
        { seqId: 3, stream: "stdout", data: "b\n" },
      ],
      complete: false,
    });
    const stdout = (await (
      await t.call("GET", `/api/v1/jobs/${body.id}/output?stream=stdout`, { token: t.admin })
    ).json()) as {
      output: { seqId: number; data: string }[];
    };
    expect(stdout.output).toEqual([
      { seqId: 1, stream: "stdout", data: "a\n" },
      { seqId: 2, stream: "stdout", data: "b\n" },
    ]);
    await agent.result(r, "ok", { exitCode: 0 });
  });

  it("follows the output as server-sent events until the job is final, then says complete", async () => {
    const { body } = await submit(t, {});
    const r = await start(agent, body.id);
    await sendOutput(r.id, [{ stream: "stdout", seq: 1, data: "first\n" }]);
    const res = await t.call("GET", `/api/v1/jobs/${body.id}/output?follow=true`, { token: t.admin });
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const reading = res.text();
    await sendOutput(r.id, [{ stream: "stdout", seq: 2, data: "second\n" }]);
    await agent.result(r, "ok", { exitCode: 7 });
    const text = await reading;
    const events = text
      .trim()
      .split("\n\n")
      .map((block) =>
        Object.fromEntries(
          block.split("\n").map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1).trim()]),
        ),
      );
    expect(events.filter((e) => e.event === "output").map((e) => JSON.parse(e.data!).data)).toEqual([
      "first\n",
      "second\n",
    ]);
    expect(JSON.parse(events.at(-1)!.data!)).toMatchObject({
      complete: true,
      status: "Finished",
      exitCode: 7,
    });
  });

  it("lists lifecycle events: accepted, placed, started, exited", async () => {
    const { body } = await submit(t, {});
    const r = await start(agent, body.id);
    await agent.result(r, "ok", { exitCode: 0 });
    const list = (await (
      await t.call("GET", `/api/v1/jobs/${body.id}/events?follow=false`, { token: t.admin })
    ).json()) as {
      events: { type: string; status: string }[];
    };
    expect(list.events.map((e) => e.type)).toEqual(["accepted", "placed", "started", "exited"]);
    expect(list.events.at(-1)!.status).toBe("Finished");
    const stream = await (await t.call("GET", `/api/v1/jobs/${body.id}/events`, { token: t.admin })).text();
    expect(stream).toContain("event: placed");
    expect(stream).toContain("event: complete");
  });

  it("keeps the output after the job has ended", async () => {
    const { body } = await submit(t, {});
    const r = await start(agent, body.id);
    await sendOutput(r.id, [{ stream: "stdout", seq: 1, data: "kept\n" }]);
    await agent.result(r, "ok", { exitCode: 0 });
    await control(t, body.id, "cancel"); // refused (Finished): changes nothing
    const out = (await (
      await t.call("GET", `/api/v1/jobs/${body.id}/output`, { token: t.admin })
    ).json()) as {
      output: { data: string }[];
      complete: boolean;
    };
    expect(out).toMatchObject({ output: [{ data: "kept\n" }], complete: true });
  });
});

describe("quotas (jobs.md §8)", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp();
    await gpuAgent(t, 8);
  });

  const quota = async () =>
    (await (await t.call("GET", "/api/v1/quotas", { token: t.admin })).json()) as {
      limits: { maxGpus?: number; maxRunningJobs?: number };
      use: { gpus: number; runningJobs: number };
    };

  it("shows limits and use; admins set them, null removes one", async () => {
    expect(await quota()).toEqual({
      limits: { maxSecrets: 1000, maxNamespaces: 20, maxApplications: 100 },
      use: { gpus: 0, runningJobs: 0, secrets: 0, namespaces: 0, applications: 0 },
    });
    const set = await t.call("PUT", "/api/v1/quotas", {
      token: t.admin,
      body: { maxGpus: 4, maxRunningJobs: 3 },
    });
    expect(await set.json()).toMatchObject({ limits: { maxGpus: 4, maxRunningJobs: 3 } });
    const member = await t.key("member");
    expect((await t.call("PUT", "/api/v1/quotas", { token: member, body: { maxGpus: 100 } })).status).toBe(
      403,
    );
    expect((await t.call("GET", "/api/v1/quotas", { token: member })).status).toBe(200);
  });

  it("refuses a submit over the limit with 429 naming it and the use, creating nothing", async () => {
    await submit(t, { gpus: { count: 3 } });
    const before = await snapshot(t.db);
    const { status, body } = await submit(t, { gpus: { count: 2 } });
    expect(status).toBe(429);
    expect(body.error).toMatchObject({
      code: "QuotaExceeded",
      message: "quota exceeded: maxGpus is 4 and 3 GPUs are in use; this job asks for 2",
    });
    expect(await snapshot(t.db)).toBe(before);
  });

  it("never goes over the limit when submits race", async () => {
    const fresh = await testApp();
    await gpuAgent(fresh, 8);
    await fresh.call("PUT", "/api/v1/quotas", {
      token: fresh.admin,
      body: { maxRunningJobs: 5, maxGpus: 100 },
    });
    const results = await Promise.all(
      Array.from({ length: 20 }, () => submit(fresh, { gpus: { count: 1 } })),
    );
    expect(results.filter((r) => r.status === 201)).toHaveLength(5);
    expect(results.filter((r) => r.status === 429)).toHaveLength(15);
    const q = (await (await fresh.call("GET", "/api/v1/quotas", { token: fresh.admin })).json()) as {
      use: { runningJobs: number };
    };
    expect(q.use.runningJobs).toBe(5);
    const jobs = (await (await fresh.call("GET", "/api/v1/jobs", { token: fresh.admin })).json()) as {
      items: unknown[];
    };
    expect(jobs.items).toHaveLength(5);
  });

  it("gives the quota back when a job ends", async () => {
    const fresh = await testApp();
    const agent = await gpuAgent(fresh, 2);
    await fresh.call("PUT", "/api/v1/quotas", { token: fresh.admin, body: { maxRunningJobs: 1 } });
    const first = await submit(fresh, { gpus: { count: 1 } });
    expect((await submit(fresh, {})).status).toBe(429);
    const r = await start(agent, first.body.id);
    await agent.result(r, "ok", { exitCode: 0 });
    const second = await submit(fresh, {});
    expect(second.status).toBe(201);
    expect((await submit(fresh, {})).status).toBe(429);
    // a cancel gives it back too
    await control(fresh, second.body.id, "cancel");
    expect((await submit(fresh, {})).status).toBe(201);
  });
});
