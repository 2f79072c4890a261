import { beforeAll, describe, expect, it } from "vitest";
import { buildAppDeps } from "../../hosts/app-deps.ts";
import { createFeedWatcher } from "../../shared/adapters/feed-watcher.ts";
import { silentLogger } from "../../shared/adapters/logger.ts";
import { keys, pad } from "../../shared/adapters/repositories/keys.ts";
import { AppConfig } from "../../shared/config.ts";
import { newServerSecret } from "../../shared/domain/secrets.ts";
import { pollFeed } from "../../shared/usecases/feed/poll.ts";
import {
  agentReservation,
  newReservation,
  placeReservation,
} from "../../shared/usecases/feed/reservations.ts";
import { registerAgent, reserve, type SimAgent } from "../helpers/agents.ts";
import { errorOf, type TestApp, testApp } from "../helpers/app.ts";
import { manualClock } from "../helpers/clock.ts";
import { countRequests } from "../helpers/db.ts";
import { until } from "../helpers/wait.ts";

describe("GET /api/v1/agent/reservations (the feed)", () => {
  const clock = manualClock(new Date());
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp({ clock, config: { pollWaitCapSeconds: 2 } });
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
    const fast = await testApp({ config: { pollWaitCapSeconds: 15 } });
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

  it("never leaves a gap: a write that fails writes neither its entry nor its number", async () => {
    const agent = await registerAgent(t);
    const { next } = await agent.poll(0);
    const head = await t.deps.repos.feed.head(agent.deviceId);
    // A reservation for this device from another workspace fails its device check, inside the transaction.
    const r = newReservation(t.deps, {
      nodeId: agent.deviceId,
      workspaceId: "elsewhere",
      user: "x",
      type: "debug",
      data: {},
      duration: 60,
    });
    expect(await placeReservation(t.deps, r)).toEqual({ ok: false, failed: "device" });
    expect(await t.deps.repos.feed.head(agent.deviceId)).toEqual(head);
    const ok = await reserve(t, agent.deviceId);
    expect((await agent.poll(next)).reservations.map((x) => x.id)).toEqual([ok.id]);
  });

  it("never skips an entry not yet visible below a visible one; steps over it once it is old", async () => {
    // DynamoDB's queries are read-committed: a reader may see entry N+1 of a transaction before entry N of
    // an earlier one. The walk holds back at such a gap until it settles.
    const agent = await registerAgent(t);
    const { next } = await agent.poll(0);
    const seq = (await t.deps.repos.feed.head(agent.deviceId)).seq;
    const later = await rawEntry(t, agent.deviceId, seq + 2);
    expect(await agent.poll(next)).toMatchObject({ reservations: [], next: seq + 1 });
    const earlier = await rawEntry(t, agent.deviceId, seq + 1);
    expect((await agent.poll(next)).reservations.map((x) => x.id)).toEqual([earlier, later]);
    // One that never becomes visible (a corrupt feed) is stepped over once it is old.
    const after = await rawEntry(t, agent.deviceId, seq + 4);
    expect((await agent.poll(seq + 3)).reservations).toEqual([]);
    clock.advance(6000);
    const res = await agent.poll(seq + 3);
    expect(res.reservations.map((x) => x.id)).toEqual([after]);
    expect(res.next).toBe(seq + 5);
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

/** A reservation and its feed entry written straight to the store under `seq`, the head moved to at least it. */
async function rawEntry(t: TestApp, deviceId: string, seq: number): Promise<string> {
  const r = {
    ...newReservation(t.deps, {
      nodeId: deviceId,
      workspaceId: "default",
      user: "admin",
      type: "debug",
      data: {},
      duration: 600,
    }),
    seq,
  };
  const now = t.deps.clock.now().toISOString();
  await t.deps.repos.commit([t.deps.repos.reservations.create(r)]);
  await t.db.put({
    ...keys.feedEntry(deviceId, seq),
    deviceId,
    seq,
    kind: "apply",
    reservation: agentReservation(r, seq),
    createdAt: now,
    expiresAt: r.expiresAt,
    gsi1pk: "FEEDCHANGES#0",
    gsi1sk: `${now}#${deviceId}#${pad(seq)}`,
  });
  const head = await t.deps.repos.feed.head(deviceId);
  if (head.seq < seq) await t.db.put({ ...keys.feedHead(deviceId), seq });
  return r.id;
}

describe("wake-ups stay cheap", () => {
  let t: TestApp;
  let agents: SimAgent[];
  beforeAll(async () => {
    t = await testApp({ config: { pollWaitCapSeconds: 30 } });
    agents = [];
    for (let i = 0; i < 20; i++) agents.push(await registerAgent(t));
  });

  const device = (a: SimAgent) => ({ kind: "device" as const, workspaceId: "default", deviceId: a.deviceId });
  const manualWatcher = () =>
    createFeedWatcher({ feed: t.deps.repos.feed, logger: silentLogger, autoStart: false });

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
    // One query: the entries from the cursor, the head and the removals.
    expect(counter.of("query")).toBe(1);
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
    expect(counter.of("query")).toBe(0);
  });

  it("a write by another process wakes the waiting poll through the change check", async () => {
    const watcher = manualWatcher();
    const deps = { ...t.deps, feedWatcher: watcher };
    // "Another process": its own deps and watcher on the same table.
    const other = buildAppDeps({
      store: t.db,
      serverSecret: newServerSecret(),
      logger: silentLogger,
      config: AppConfig.parse({}),
    });
    const agent = agents[0]!;
    const start = await pollFeed(deps, device(agent), { from: 0 });
    const waiting = pollFeed(deps, device(agent), { from: start.next, wait: 30 });
    await until(() => watcher.waiting() === 1);
    const placed = await placeReservation(
      other,
      newReservation(other, {
        nodeId: agent.deviceId,
        workspaceId: "default",
        user: "elsewhere",
        type: "debug",
        data: {},
        duration: 60,
      }),
    );
    const r = placed.ok ? placed.reservation : { id: "not placed" };
    await watcher.tick();
    expect((await waiting).reservations.map((x) => x.id)).toEqual([r.id]);
    watcher.close();
    other.feedWatcher.close();
  });
});

describe("a boot sync racing a new reservation", () => {
  it("delivers a reservation written while the boot sync reads (in its list, or after its cursor)", async () => {
    const t = await testApp();
    const agent = await registerAgent(t);
    const reservations = t.deps.repos.reservations;
    const feed = t.deps.repos.feed;
    const list = reservations.listForDevice.bind(reservations);
    const latest = feed.latest.bind(feed);
    let written: string | undefined;
    // The reservation lands just after the boot sync listed the device's reservations...
    reservations.listForDevice = async (id) => {
      const found = await list(id);
      if (!written) written = (await reserve(t, agent.deviceId)).id;
      return found;
    };
    // ...and the feed is read once it is there, if it is read after the list (as it was before the fix).
    feed.latest = async (id, n) => {
      for (let i = 0; i < 40 && !written; i++) await new Promise((r) => setTimeout(r, 50));
      return latest(id, n);
    };
    const boot = await agent.poll(0);
    reservations.listForDevice = list;
    feed.latest = latest;
    const next = await agent.poll(boot.next, 0);
    const ids = [...boot.reservations, ...next.reservations].map((r) => r.id);
    expect(written).toBeDefined();
    expect(ids).toContain(written);
  });
});
