import type { PollResponse } from "../../contracts/reservations.ts";
import { forbidden } from "../../domain/errors.ts";
import { type AgentReservation, bootCursor, type FeedEntry, walkFeed } from "../../domain/feed.ts";
import type { DevicePrincipal } from "../../domain/principal.ts";
import {
  expiresAt,
  isRemoval,
  moveReservation,
  ONE_SHOT_TYPES,
  type Reservation,
} from "../../domain/reservation.ts";
import type { Background } from "../../ports/background.ts";
import type { Meter } from "../../ports/meter.ts";
import type { ReservationDeps } from "../deps.ts";
import { agentReservation } from "./reservations.ts";
import { sealForAgent, signSync } from "./seal.ts";

type Deps = ReservationDeps & {
  background: Background;
  meter: Meter;
  config: {
    pollWaitCapSeconds: number;
    pollMode: "hold" | "short";
    shortPollSeconds: number;
    feedGapSettleMs: number;
    bodyLimitBytes: number;
    minAgentProtocol: number;
  };
};

/** Entries read per poll; a longer backlog arrives over several polls without waiting. */
const BATCH = 100;
/** Newest entries a boot sync inspects for writes still in flight. */
const BOOT_WINDOW = 50;
/**
 * Entries younger than this are delivered as written (their reservation was created moments ago; a
 * removal since then follows as its own entry). Older ones are checked against the reservation's current
 * state, so a replayed old entry never hands out work that has since been deleted.
 */
const FRESH_MS = 30_000;

/**
 * `GET /api/v1/agent/reservations?from=&wait=` (specs/agent-protocol.md §2).
 * - `from=0`: boot sync, at once: every reservation the device should have, plus unacknowledged removals.
 * - `from>0`: entries with seq >= from, in order, plus unacknowledged removals; when there are none,
 *   waits up to `wait` seconds (clamped to the server's cap) and answers as soon as an entry is written.
 * Cost: a poll reads its feed (entries, head and removals in one query) once when it starts, and again only
 * on a wake-up by another process; waiting itself costs nothing (see FeedWatcher and docs/long-polling.md).
 */
export async function pollFeed(
  deps: Deps,
  device: DevicePrincipal,
  query: { from: number; wait?: number },
  signal?: AbortSignal,
): Promise<PollResponse> {
  if ((device.protocol ?? 1) < deps.config.minAgentProtocol) {
    throw forbidden(
      `this control plane needs agent protocol ${deps.config.minAgentProtocol} or later; upgrade the agent on this machine (it logs in again by itself)`,
    );
  }
  // Short polling holds nothing: an empty answer says when to come back instead.
  const short = deps.config.pollMode === "short";
  const cap = short ? 0 : deps.config.pollWaitCapSeconds;
  const key = deps.keys.signing.privateKey;
  const started = Date.now();
  const respond = (reservations: AgentReservation[], next: number, boot = false): PollResponse => {
    const serverTime = deps.clock.now().toISOString();
    const comeBack = short && reservations.length === 0 ? deps.config.shortPollSeconds : 0;
    // The agent's time this poll covers: its wait here, and the pause it is told to take before the next.
    deps.meter.agentTime(device.workspaceId, Date.now() - started + comeBack * 1000);
    return {
      reservations: reservations.map((r) => sealForAgent(key, r, device.protocol)),
      next,
      waitHintSeconds: cap,
      ...(comeBack ? { pollAfterSeconds: comeBack } : {}),
      serverTime,
      limits: { bodyBytes: deps.config.bodyLimitBytes },
      ...(boot && (device.protocol ?? 1) >= 2
        ? {
            sync: signSync(
              key,
              device.deviceId,
              serverTime,
              reservations.map((r) => r.id),
            ),
          }
        : {}),
    };
  };
  const id = device.deviceId;
  if (query.from === 0) {
    const { reservations, next } = await bootSync(deps, id);
    return respond(reservations, next, true);
  }
  const deadline = Date.now() + Math.min(query.wait ?? cap, cap) * 1000;
  let mark = deps.feedWatcher.mark(id);
  const read = await deps.repos.feed.read(id, query.from, BATCH);
  const head = read.head;
  // A cursor past the feed (a restored database, another control plane): start over with a boot sync.
  if (query.from > head.seq + 1) return respond([], 0);
  let entries = read.entries;
  const removals = head.removals.map((r) => r.id);
  for (;;) {
    const walk = walkFeed(entries, query.from, deps.clock.now(), deps.config.feedGapSettleMs);
    if (walk.taken.length > 0) return respond(await deliver(deps, id, walk.taken, removals), walk.next);
    const remaining = deadline - Date.now();
    if (remaining <= 0 || signal?.aborted) return respond(await deliver(deps, id, [], removals), query.from);
    const settleIn = walk.settlesAt ? walk.settlesAt - deps.clock.now().getTime() + 10 : remaining;
    const counters = deps.meter.workspace(device.workspaceId);
    counters.pollsWaiting++;
    const woken = await deps.feedWatcher
      .wait(id, mark, Math.max(10, Math.min(remaining, settleIn)), signal)
      .finally(() => counters.pollsWaiting--);
    // The server is shutting down: answer now (an empty answer; the agent polls again from the same cursor).
    if (!woken && deps.feedWatcher.closed())
      return respond(await deliver(deps, id, [], removals), query.from);
    // Entries written in this process while we waited come with the announcement: no read needed.
    const announced = woken ? deps.feedWatcher.entriesSince(id, mark) : undefined;
    mark = deps.feedWatcher.mark(id);
    if (announced) entries = [...entries, ...announced.filter((e) => !entries.some((x) => x.seq === e.seq))];
    // Otherwise read again only when there may be something new: a write elsewhere, or a held gap settled.
    else if (woken || (walk.settlesAt !== undefined && settleIn <= remaining)) {
      entries = (await deps.repos.feed.read(id, query.from, BATCH)).entries;
    }
  }
}

/**
 * Turns feed entries (and unacknowledged removals) into what the agent receives, in feed order. Fresh
 * apply entries go out as written; older entries and removals are checked against the reservations'
 * current state (one consistent batch read). Control entries (suspend, resume, stop, kill) go out as
 * written, in their place. Newly delivered reservations are marked `delivered` in the background.
 */
async function deliver(deps: Deps, deviceId: string, entries: FeedEntry[], removals: string[]) {
  const now = deps.clock.now().getTime();
  const fresh = (e: FeedEntry) => e.kind === "apply" && now - Date.parse(e.createdAt) < FRESH_MS;
  const check = [
    ...new Set([
      ...entries.filter((e) => e.kind !== "control" && !fresh(e)).map((e) => e.reservation.id),
      ...removals,
    ]),
  ];
  const current = new Map(
    (check.length ? await deps.repos.reservations.getMany(deviceId, check) : []).map((r) => [r.id, r]),
  );
  const out: AgentReservation[] = [];
  /** Position in `out` of each reservation's apply or removal, so each is sent once. */
  const at = new Map<string, number>();
  const put = (r: AgentReservation) => {
    const i = at.get(r.id);
    if (i === undefined) at.set(r.id, out.push(r) - 1);
    else if (r.toDelete) out[i] = r; // a removal replaces an apply of the same reservation
  };
  const toMark: Reservation[] = [];
  const removed = new Set(entries.filter((e) => e.kind === "remove").map((e) => e.reservation.id));
  for (const entry of entries) {
    const id = entry.reservation.id;
    if (entry.kind === "control") {
      if (!removed.has(id)) out.push(entry.reservation);
      continue;
    }
    if (entry.kind === "remove") {
      // Always sent: removing what the agent does not have is a no-op it acknowledges, and a removal
      // must reach an agent that may have applied the entry before it.
      const r = current.get(id);
      put(r ? { ...agentReservation(r, entry.seq), toDelete: true } : entry.reservation);
      continue;
    }
    if (removed.has(id)) continue; // removed in the same batch: never apply it
    if (fresh(entry)) {
      // As created: pending, version 1. If it moved on since, the conditional mark writes nothing.
      put(entry.reservation);
      toMark.push(asCreated(entry));
      continue;
    }
    const r = current.get(id);
    if (!r || r.state === "deleted") continue; // gone (or acknowledged): nothing to apply
    put(agentReservation(r, entry.seq));
    if (r.state === "pending") toMark.push(r);
  }
  for (const id of removals) {
    const r = current.get(id);
    if (r && isRemoval(r.state)) put(agentReservation(r, r.removeSeq));
  }
  await markDelivered(deps, toMark);
  return out;
}

/**
 * Bookkeeping, not part of the answer, so it runs in the background (detached on a long-running host).
 * A mark that is lost (a crash) leaves the reservation `pending` until its result moves it on anyway.
 */
function markDelivered(deps: Deps, reservations: Reservation[]) {
  if (reservations.length === 0) return Promise.resolve();
  const now = deps.clock.now().toISOString();
  // A result or delete racing the mark wins (the conditional transition then writes nothing).
  return deps.background.run(() =>
    Promise.all(
      reservations.map((r) => deps.repos.reservations.save(r, moveReservation(r, "delivered"), now)),
    ),
  );
}

/** The reservation of a fresh apply entry as it was created (pending, version 1), for its conditional mark. */
function asCreated(entry: FeedEntry): Reservation {
  const { toDelete: _t, seq: _s, control: _c, ...signed } = entry.reservation;
  return {
    ...signed,
    state: "pending",
    version: 1,
    seq: entry.seq,
    expiresAt: expiresAt(signed.created, signed.duration),
    updatedAt: signed.created,
  };
}

/**
 * Everything the device should have now: live reservations (not those whose apply failed, and one-shot
 * ones only until they succeeded), and removals not yet acknowledged. The cursor it returns never skips a write still in flight.
 */
async function bootSync(deps: Deps, deviceId: string) {
  // The feed first, then the list: a reservation written in between is in the list, or after the cursor (or
  // both: the agent applies an id once). Read the other way round, it could be in neither, and never arrive.
  const recent = await deps.repos.feed.latest(deviceId, BOOT_WINDOW);
  const all = await deps.repos.reservations.listForDevice(deviceId);
  const reservations: AgentReservation[] = [];
  const toMark: Reservation[] = [];
  for (const r of all) {
    // An error result is final (a retry is a new reservation), and finished one-shot work is done.
    if (r.state === "error" || (r.state === "ok" && ONE_SHOT_TYPES.includes(r.type))) continue;
    reservations.push(agentReservation(r, isRemoval(r.state) ? r.removeSeq : r.seq));
    if (r.state === "pending") toMark.push(r);
  }
  await markDelivered(deps, toMark);
  return { reservations, next: bootCursor(recent, deps.clock.now(), deps.config.feedGapSettleMs) };
}
