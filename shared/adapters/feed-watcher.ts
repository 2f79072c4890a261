import { randomUUID } from "node:crypto";
import type { FeedEntry } from "../domain/feed.ts";
import type { FeedWatcher } from "../ports/feed-watcher.ts";
import type { Logger } from "../ports/logger.ts";
import type { Meter } from "../ports/meter.ts";
import type { FeedRepository } from "../ports/repositories.ts";
import type { Broadcast } from "../ports/store.ts";

const RECENT = 8;
/** The broadcast topic of wake-ups (`<origin>\t<topic>\t<seq>`). */
const WAKE = "wake";

interface Waiter {
  mark: number;
  resolve(changed: boolean): void;
}

export interface ChangeCheckOptions {
  feed: FeedRepository;
  logger: Logger;
  /** How often the shared check runs while polls wait (≤ 1 s keeps cross-process wake-ups under a second). */
  intervalMs?: number;
  /** How far back each check looks again, for index lag and clock skew between writers. */
  overlapMs?: number;
  /** False in tests, which call tick() themselves. */
  autoStart?: boolean;
  /** Counts the check's storage calls (the `change-check` activity). */
  meter?: Meter;
}

/**
 * The process's feed watcher: an in-process notifier, and one way to hear of writes by other processes:
 * - `broadcast` (PostgreSQL LISTEN/NOTIFY): every local notification is published, and every other
 *   process's is heard, at once and with no polling;
 * - `check` (DynamoDB): the shared change check: while any poll waits, one query per index shard per
 *   interval finds every feed write since the last check, whoever made it, and wakes the waiters of those
 *   devices. Its cost does not depend on how many polls wait;
 * - neither (SQLite: one process).
 */
export function createFeedWatcher(
  check?: ChangeCheckOptions,
  broadcast?: { bus: Broadcast; logger: Logger },
): FeedWatcher & { tick(): Promise<void> } {
  const waiters = new Map<string, Set<Waiter>>();
  const counts = new Map<string, number>();
  /** Entries announced while a poll of the device waited: at most RECENT per device, each with its count. */
  const recent = new Map<string, { count: number; entry: FeedEntry }[]>();
  /** (device#seq) already announced, with when it was written: changes are reported once. */
  const seen = new Map<string, number>();
  const intervalMs = check?.intervalMs ?? 1000;
  const overlapMs = check?.overlapMs ?? 5000;
  let lastCheck = Date.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let ticking: Promise<void> | undefined;
  let closed = false;
  let total = 0;

  const origin = randomUUID();
  /** Wakes a topic's waiters. Changes found by the change check are reported once (they overlap). */
  const wake = (deviceId: string, seq: number, entry?: FeedEntry) => {
    if (check) {
      const key = `${deviceId}#${seq}`;
      if (seen.has(key)) return;
      seen.set(key, Date.now());
    }
    const count = (counts.get(deviceId) ?? 0) + 1;
    counts.set(deviceId, count);
    const set = waiters.get(deviceId);
    if (!set) {
      recent.delete(deviceId);
      return;
    }
    // Kept only while a poll waits for the device, so memory follows waiting polls, not writes.
    if (entry) recent.set(deviceId, [...(recent.get(deviceId) ?? []), { count, entry }].slice(-RECENT));
    for (const w of set) w.resolve(true);
  };
  const notify = (deviceId: string, seq: number, entry?: FeedEntry) => {
    wake(deviceId, seq, entry);
    broadcast?.bus.publish(WAKE, `${origin}\t${deviceId}\t${seq}`).catch((err: Error) => {
      broadcast.logger.warn("could not broadcast a wake-up; other servers hear of it at their next read", {
        error: err.message,
      });
    });
  };
  broadcast?.bus.subscribe((topic, message) => {
    if (topic === "*") {
      // The listening connection was re-established: changes may have been missed; let every poll look.
      for (const id of waiters.keys()) wake(id, -Date.now());
      return;
    }
    if (topic !== WAKE) return;
    const [from, id, seq] = message.split("\t");
    if (from === origin || !id) return;
    wake(id, Number(seq));
  });

  async function tick() {
    if (!check) return;
    const started = Date.now();
    const since = new Date(lastCheck - overlapMs).toISOString();
    try {
      const read = () => check.feed.changesSince(since);
      const changes = await (check.meter ? check.meter.within(undefined, read, "change-check") : read());
      for (const change of changes) wake(change.deviceId, change.seq);
      lastCheck = started;
    } catch (err) {
      check.logger.warn("feed change check failed; retrying", { error: String(err) });
    }
    // Forget announcements older than the look-back window: they cannot be reported again.
    for (const [key, at] of seen) if (at < started - overlapMs * 3) seen.delete(key);
  }

  const schedule = () => {
    if (!check || check.autoStart === false || timer || closed || total === 0) return;
    timer = setTimeout(async () => {
      timer = undefined;
      ticking = tick();
      await ticking;
      schedule();
    }, intervalMs);
  };

  return {
    notify,
    tick,
    entriesSince(deviceId, mark) {
      const since = (recent.get(deviceId) ?? []).filter((n) => n.count > mark);
      // Every announcement after the mark must be here with its entry, or the feed has to be read.
      return since.length === (counts.get(deviceId) ?? 0) - mark ? since.map((n) => n.entry) : undefined;
    },
    mark: (deviceId) => counts.get(deviceId) ?? 0,
    waiting: () => total,
    wait(deviceId, mark, ms, signal) {
      if ((counts.get(deviceId) ?? 0) > mark) return Promise.resolve(true);
      if (ms <= 0 || signal?.aborted || closed) return Promise.resolve(false);
      return new Promise<boolean>((resolve) => {
        const set = waiters.get(deviceId) ?? new Set<Waiter>();
        waiters.set(deviceId, set);
        const done = (changed: boolean) => {
          clearTimeout(timeout);
          signal?.removeEventListener("abort", onAbort);
          if (set.delete(waiter)) total--;
          if (set.size === 0) {
            waiters.delete(deviceId);
            // Later: the poll this wakes reads its entries in a microtask before this runs.
            setImmediate(() => {
              if (!waiters.has(deviceId)) recent.delete(deviceId);
            });
          }
          resolve(changed);
        };
        const waiter: Waiter = { mark, resolve: done };
        const onAbort = () => done(false);
        const timeout = setTimeout(() => done(false), ms);
        signal?.addEventListener("abort", onAbort, { once: true });
        set.add(waiter);
        // From idle, the poll has just read its feed: the check need only look back its overlap from now.
        if (total++ === 0 && !timer) lastCheck = Date.now();
        schedule();
      });
    },
    closed: () => closed,
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      for (const set of waiters.values()) for (const w of set) w.resolve(false);
    },
  };
}
