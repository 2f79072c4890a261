import { beforeAll, describe, expect, it } from "vitest";
import { createFeedWatcher } from "../../shared/adapters/feed-watcher.ts";
import { silentLogger } from "../../shared/adapters/logger.ts";
import { buildAppDeps } from "../../shared/app/build-deps.ts";
import { AppConfig } from "../../shared/config.ts";
import { newServerSecret } from "../../shared/domain/secrets.ts";
import { pollFeed } from "../../shared/usecases/poll.ts";
import { placeReservation } from "../../shared/usecases/reservations.ts";
import { registerAgent, reserve, type SimAgent } from "../helpers/agents.ts";
import { errorOf, type TestApp, testApp, useDynalite } from "../helpers/app.ts";
import { manualClock } from "../helpers/clock.ts";
import { countRequests } from "../helpers/db.ts";
import { until } from "../helpers/wait.ts";

const engine = useDynalite();

describe("GET /api/v1/agent/reservations (the feed)", () => {
  const clock = manualClock(new Date());
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp(engine(), { clock, config: { pollWaitCapSeconds: 2 } });
  });

  it("boot sync (from=0) returns everything live at once, with a cursor past it", async () => {
    const agent = await registerAgent(t);
    const a = await reserve(t, agent.deviceId);
    const b = await reserve(t, agent.deviceId, { type: "container", data: { image: "x" } });
    const res = await agent.poll(0, 30);
    expect(res.reservations.map((r) => r.id)).toEqual([a.id, b.id]);
    expect(res.next).toBe(3);
    expect(res.waitHintSeconds).toBe(2);
    const state = async () =>
      (
        (await (await t.call("GET", `/api/v1/reservations/${a.id}`, { token: t.admin })).json()) as {
          state: string;
        }
      ).state;
    await until(async () => (await state()) === "delivered");
  });

  it("boot sync leaves out finished one-shot work, failed and deleted work, and includes unacknowledged removals", async () => {
    const agent = await registerAgent(t);
    const done = await reserve(t, agent.deviceId, { type: "process", data: { argv: ["true"] } });
    const failed = await reserve(t, agent.deviceId, { type: "container", data: { image: "missing" } });
    const running = await reserve(t, agent.deviceId, { type: "container", data: { image: "x" } });
    const gone = await reserve(t, agent.deviceId);
    const removing = await reserve(t, agent.deviceId);
    await agent.result(done, "ok", { exitCode: 0 });
    await agent.result(running, "ok", {});
    await agent.result(failed, "error", {}, "image not found");
    await t.call("DELETE", `/api/v1/reservations/${gone.id}`, { token: t.admin });
    await agent.deleted(gone.id);
    await t.call("DELETE", `/api/v1/reservations/${removing.id}`, { token: t.admin });
    const res = await agent.poll(0);
    expect(res.reservations.map((r) => [r.id, r.toDelete])).toEqual([
      [running.id, false],
      [removing.id, true],
    ]);
  });

  it("from>0 returns entries from the cursor in order, then nothing, leaving the cursor", async () => {
    const agent = await registerAgent(t);
    const { next } = await agent.poll(0);
    const a = await reserve(t, agent.deviceId);
    const b = await reserve(t, agent.deviceId);
    const res = await agent.poll(next);
    expect(res.reservations.map((r) => [r.id, r.seq])).toEqual([
      [a.id, next],
      [b.id, next + 1],
    ]);
    expect(res.next).toBe(next + 2);
    const empty = await agent.poll(res.next, 0);
    expect(empty).toMatchObject({ reservations: [], next: res.next });
  });

  it("a waiting poll returns as soon as an entry is written", async () => {
    const fast = await testApp(engine(), { config: { pollWaitCapSeconds: 15 } });
    const agent = await registerAgent(fast);
    const { next } = await agent.poll(0);
    const waiting = agent.poll(next, 15);
    await until(() => fast.deps.feedWatcher.waiting() === 1);
    const r = await reserve(fast, agent.deviceId);
    expect((await waiting).reservations.map((x) => x.id)).toEqual([r.id]);
  });

  it("clamps a wait above the cap instead of rejecting it", async () => {
    const agent = await registerAgent(t);
    const res = await t.call("GET", "/api/v1/agent/reservations?from=1&wait=86400", { token: agent.session });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { reservations: unknown[] }).reservations).toEqual([]);
  });

  it.each([
    ["from=-1", "from"],
    ["from=1.5", "from"],
    ["from=abc", "from"],
    ["", "from"],
    ["from=1&wait=-5", "wait"],
    ["from=1&wait=ten", "wait"],
  ])("400 for ?%s", async (query, path) => {
    const agent = await registerAgent(t);
    const err = await errorOf(
      await t.call("GET", `/api/v1/agent/reservations?${query}`, { token: agent.session }),
    );
    expect(err).toMatchObject({ status: 400, code: "InvalidRequest", details: [{ path }] });
  });

  it("answers a cursor past the end of the feed with next=0 (boot sync again)", async () => {
    const agent = await registerAgent(t);
    await reserve(t, agent.deviceId);
    expect(await agent.poll(50)).toMatchObject({ reservations: [], next: 0 });
  });

  it("steps over the gap a crashed writer leaves, once it is old", async () => {
    const agent = await registerAgent(t);
    const { next } = await agent.poll(0);
    // A writer that took a sequence number and died before writing its entry.
    const lost = await t.deps.repos.feed.allocate(agent.deviceId);
    const r = await reserve(t, agent.deviceId);
    expect(await agent.poll(next)).toMatchObject({ reservations: [], next: lost });
    clock.advance(6000);
    const res = await agent.poll(next);
    expect(res.reservations.map((x) => x.id)).toEqual([r.id]);
    expect(res.next).toBe(lost + 2);
  });

  it("never skips a write still in flight: a later entry waits for the earlier one", async () => {
    const agent = await registerAgent(t);
    const { next } = await agent.poll(0);
    const slowSeq = await t.deps.repos.feed.allocate(agent.deviceId);
    const fast = await reserve(t, agent.deviceId);
    expect((await agent.poll(next)).reservations).toEqual([]);
    // The slow writer finishes: its reservation and entry appear under the number it took.
    const slow = await placeReservationAt(t, agent.deviceId, slowSeq);
    const res = await agent.poll(next);
    expect(res.reservations.map((x) => x.id)).toEqual([slow, fast.id]);
  });

  it("re-sends a removal until the device acknowledges it", async () => {
    const agent = await registerAgent(t);
    const r = await reserve(t, agent.deviceId);
    const { next } = await agent.poll(0);
    await t.call("DELETE", `/api/v1/reservations/${r.id}`, { token: t.admin });
    const first = await agent.poll(next);
    expect(first.reservations).toEqual([expect.objectContaining({ id: r.id, toDelete: true })]);
    const again = await agent.poll(first.next, 0);
    expect(again.reservations).toEqual([expect.objectContaining({ id: r.id, toDelete: true })]);
    expect((await agent.deleted(r.id)).status).toBe(200);
    expect((await agent.poll(first.next, 0)).reservations).toEqual([]);
  });

  it("never hands out for applying a reservation deleted after its entry was written", async () => {
    const agent = await registerAgent(t);
    const { next } = await agent.poll(0);
    const r = await reserve(t, agent.deviceId);
    await t.call("DELETE", `/api/v1/reservations/${r.id}`, { token: t.admin });
    await agent.deleted(r.id);
    const res = await agent.poll(next);
    expect(res.reservations).toEqual([expect.objectContaining({ id: r.id, toDelete: true })]);
    expect(res.next).toBe(next + 2);
  });

  it("only ever shows a device its own feed", async () => {
    const a = await registerAgent(t);
    const b = await registerAgent(t);
    const forA = await reserve(t, a.deviceId);
    expect((await b.poll(0)).reservations.map((r) => r.id)).not.toContain(forA.id);
  });
});

/** Finishes a write that took `seq` earlier: what a slow writer does after a faster one overtook it. */
async function placeReservationAt(t: TestApp, deviceId: string, seq: number): Promise<string> {
  const repos = t.deps.repos;
  const feed = { ...repos.feed, allocate: async () => seq };
  const r = await placeReservation(
    { ...t.deps, repos: { ...repos, feed } },
    { nodeId: deviceId, workspaceId: "default", user: "admin", type: "debug", data: {}, duration: 600 },
  );
  return r.id;
}

describe("wake-ups stay cheap", () => {
  let t: TestApp;
  let agents: SimAgent[];
  beforeAll(async () => {
    t = await testApp(engine(), { config: { pollWaitCapSeconds: 30 } });
    agents = [];
    for (let i = 0; i < 20; i++) agents.push(await registerAgent(t));
  });

  const device = (a: SimAgent) => ({ kind: "device" as const, workspaceId: "default", deviceId: a.deviceId });
  const manualWatcher = () =>
    createFeedWatcher({ feed: t.deps.repos.feed, shards: 4, logger: silentLogger, autoStart: false });

  it("the shared change check costs the same reads for 1 waiting poll as for 20", async () => {
    const watcher = manualWatcher();
    const deps = { ...t.deps, feedWatcher: watcher };
    const counter = countRequests(t.db);
    /** Storage requests made by 3 change checks while `waiters` polls wait. */
    const readsWhileWaiting = async (waiters: number) => {
      const abort = new AbortController();
      const polls = agents
        .slice(0, waiters)
        .map((a) => pollFeed(deps, device(a), { from: 1, wait: 30 }, abort.signal));
      await until(() => watcher.waiting() === waiters);
      counter.reset();
      for (let i = 0; i < 3; i++) await watcher.tick();
      const reads = counter.total();
      abort.abort();
      await Promise.all(polls);
      return reads;
    };
    const one = await readsWhileWaiting(1);
    const twenty = await readsWhileWaiting(20);
    expect(one).toBe(12); // 3 checks × 4 index shards
    expect(twenty).toBe(one);
    watcher.close();
  });

  it("a poll that waits out its time with nothing written reads storage once, when it starts", async () => {
    const agent = agents[1]!;
    const { next } = await agent.poll(0);
    const counter = countRequests(t.db);
    const res = await pollFeed(
      { ...t.deps, config: { ...t.deps.config, pollWaitCapSeconds: 1 } },
      device(agent),
      { from: next, wait: 1 },
    );
    expect(res.reservations).toEqual([]);
    expect(counter.of("GetItemCommand")).toBe(1); // the feed head
    expect(counter.of("QueryCommand")).toBe(0);
    expect(counter.total()).toBe(1);
  });

  it("a write in the same process reaches the waiting poll with its entry: no feed read", async () => {
    const agent = agents[2]!;
    const { next } = await agent.poll(0);
    const waiting = agent.poll(next, 20);
    await until(() => t.deps.feedWatcher.waiting() === 1);
    const counter = countRequests(t.db);
    const r = await reserve(t, agent.deviceId);
    expect((await waiting).reservations.map((x) => x.id)).toEqual([r.id]);
    expect(counter.of("QueryCommand")).toBe(0);
  });

  it("a write by another process wakes the waiting poll through the change check", async () => {
    const watcher = manualWatcher();
    const deps = { ...t.deps, feedWatcher: watcher };
    // "Another process": its own deps and watcher on the same table.
    const other = buildAppDeps({
      db: t.db,
      serverSecret: newServerSecret(),
      logger: silentLogger,
      config: AppConfig.parse({}),
    });
    const agent = agents[0]!;
    const start = await pollFeed(deps, device(agent), { from: 0 });
    const waiting = pollFeed(deps, device(agent), { from: start.next, wait: 30 });
    await until(() => watcher.waiting() === 1);
    const r = await placeReservation(other, {
      nodeId: agent.deviceId,
      workspaceId: "default",
      user: "elsewhere",
      type: "debug",
      data: {},
      duration: 60,
    });
    await watcher.tick();
    expect((await waiting).reservations.map((x) => x.id)).toEqual([r.id]);
    watcher.close();
    other.feedWatcher.close();
  });
});
