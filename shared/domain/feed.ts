/**
 * Reading a device's feed in order. Writers take a sequence number (atomic ADD) and then write the
 * entry, so entry N+1 can become visible a moment before entry N. A reader that stepped past N would
 * never see it. So a reader walks from its cursor and stops at the first gap whose next entry is
 * younger than `settleMs`: N is probably being written. A gap older than that was left by a writer that
 * crashed between the two steps, and is stepped over.
 */
export interface FeedPosition {
  seq: number;
  createdAt: string;
}

export interface FeedWalk<T extends FeedPosition> {
  /** Entries to deliver, in order. */
  taken: T[];
  /** The cursor to poll from next. */
  next: number;
  /** When a held-back gap may be stepped over (ms since epoch), if one was found. */
  settlesAt?: number;
}

/** Default time after which a gap counts as a crashed writer's. */
export const FEED_GAP_SETTLE_MS = 5_000;

export function walkFeed<T extends FeedPosition>(
  entries: T[],
  from: number,
  now: Date,
  settleMs: number,
): FeedWalk<T> {
  const taken: T[] = [];
  let expected = from;
  for (const entry of [...entries].sort((a, b) => a.seq - b.seq)) {
    if (entry.seq < expected) continue;
    if (entry.seq > expected) {
      const settlesAt = Date.parse(entry.createdAt) + settleMs;
      if (settlesAt > now.getTime()) return { taken, next: expected, settlesAt };
    }
    taken.push(entry);
    expected = entry.seq + 1;
  }
  return { taken, next: expected };
}

/**
 * Where a boot sync should resume the feed: after the newest entry, unless a recent entry sits above a
 * gap (a write still in flight), in which case at that gap. `recent` are the newest entries, ascending.
 */
export function bootCursor(recent: FeedPosition[], now: Date, settleMs: number): number {
  if (recent.length === 0) return 1;
  const sorted = [...recent].sort((a, b) => a.seq - b.seq);
  return walkFeed(sorted, sorted[0]!.seq, now, settleMs).next;
}
