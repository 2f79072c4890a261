import type { AgentReservation, PollResponse } from "../contracts/reservations.ts";
import { bootCursor, walkFeed } from "../domain/feed.ts";
import type { DevicePrincipal } from "../domain/principal.ts";
import { isLive, isRemoval, ONE_SHOT_TYPES, type Reservation } from "../domain/reservation.ts";
import type { FeedEntry } from "../ports/repositories.ts";
import { agentReservation, type ReservationDeps } from "./reservations.ts";

type Deps = ReservationDeps & { config: { pollWaitCapSeconds: number; feedGapSettleMs: number } };

/** Entries read per poll; a longer backlog arrives over several polls without waiting. */
const BATCH = 100;
/** Newest entries a boot sync inspects for writes still in flight. */
const BOOT_WINDOW = 50;

/**
 * `GET /api/v1/agent/reservations?from=&wait=` (specs/agent-protocol.md §2).
 * - `from=0`: boot sync, at once: every reservation the device should have, plus unacknowledged removals.
 * - `from>0`: entries with seq >= from, in order, plus unacknowledged removals; when there are none,
 *   waits up to `wait` seconds (clamped to the server's cap) and answers as soon as an entry is written.
 * Each entry is checked against the reservation's current state, so a reservation deleted since its
 * entry was written is never handed out to apply. Waiting costs no reads (see FeedWatcher).
 */
export async function pollFeed(
  deps: Deps,
  device: DevicePrincipal,
  query: { from: number; wait?: number },
  signal?: AbortSignal,
): Promise<PollResponse> {
  const cap = deps.config.pollWaitCapSeconds;
  const respond = (reservations: AgentReservation[], next: number): PollResponse => ({
    reservations,
    next,
    waitHintSeconds: cap,
    serverTime: deps.clock.now().toISOString(),
  });
  const id = device.deviceId;
  if (query.from === 0) {
    const { reservations, next } = await bootSync(deps, id);
    return respond(reservations, next);
  }
  const deadline = Date.now() + Math.min(query.wait ?? cap, cap) * 1000;
  for (;;) {
    const mark = deps.feedWatcher.mark(id);
    const head = await deps.repos.feed.head(id);
    // A cursor past the feed (a restored database, another control plane): start over with a boot sync.
    if (query.from > head.seq + 1) return respond([], 0);
    const entries = query.from <= head.seq ? await deps.repos.feed.from(id, query.from, BATCH) : [];
    const walk = walkFeed(entries, query.from, deps.clock.now(), deps.config.feedGapSettleMs);
    if (walk.taken.length > 0) return respond(await deliver(deps, id, walk.taken, head.removals), walk.next);
    const remaining = deadline - Date.now();
    if (remaining <= 0 || signal?.aborted)
      return respond(await deliver(deps, id, [], head.removals), query.from);
    const settleIn = walk.settlesAt ? walk.settlesAt - deps.clock.now().getTime() + 10 : remaining;
    await deps.feedWatcher.wait(id, mark, Math.max(10, Math.min(remaining, settleIn)), signal);
  }
}

/**
 * Turns feed entries (and unacknowledged removals) into what the agent receives, using the current
 * state of each reservation (one consistent batch read), and marks newly delivered ones `delivered`.
 */
async function deliver(deps: Deps, deviceId: string, entries: FeedEntry[], removals: string[]) {
  const ids = [...new Set([...entries.map((e) => e.reservation.id), ...removals])];
  if (ids.length === 0) return [];
  const current = new Map((await deps.repos.reservations.getMany(deviceId, ids)).map((r) => [r.id, r]));
  const out = new Map<string, AgentReservation>();
  const toMark: Reservation[] = [];
  for (const entry of entries) {
    const r = current.get(entry.reservation.id);
    if (!r || r.state === "deleted") continue; // gone (or acknowledged): nothing to apply or remove
    if (isLive(r.state) && entry.kind === "apply") {
      if (!out.has(r.id)) out.set(r.id, agentReservation(r, entry.seq));
      if (r.state === "pending") toMark.push(r);
    } else out.set(r.id, agentReservation(r, entry.seq));
  }
  for (const id of removals) {
    const r = current.get(id);
    if (r && isRemoval(r.state)) out.set(id, agentReservation(r, r.removeSeq));
  }
  await markDelivered(deps, toMark);
  return [...out.values()];
}

async function markDelivered(deps: Deps, reservations: Reservation[]) {
  const now = deps.clock.now().toISOString();
  // A result or delete racing the mark wins (the conditional transition then writes nothing).
  await Promise.all(reservations.map((r) => deps.repos.reservations.transition(r, "delivered", {}, now)));
}

/**
 * Everything the device should have now: live reservations (one-shot ones only until they succeeded),
 * and removals not yet acknowledged. The cursor it returns never skips a write still in flight.
 */
async function bootSync(deps: Deps, deviceId: string) {
  const [all, recent] = await Promise.all([
    deps.repos.reservations.listForDevice(deviceId),
    deps.repos.feed.latest(deviceId, BOOT_WINDOW),
  ]);
  const reservations: AgentReservation[] = [];
  const toMark: Reservation[] = [];
  for (const r of all) {
    if (r.state === "ok" && ONE_SHOT_TYPES.includes(r.type)) continue;
    reservations.push(agentReservation(r, isRemoval(r.state) ? r.removeSeq : r.seq));
    if (r.state === "pending") toMark.push(r);
  }
  await markDelivered(deps, toMark);
  return { reservations, next: bootCursor(recent, deps.clock.now(), deps.config.feedGapSettleMs) };
}
