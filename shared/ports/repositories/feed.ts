import type { FeedEntry, FeedHead } from "../../domain/feed.ts";
import type { Write } from "./write.ts";

/**
 * A device's feed: numbered entries, its head (the last number) and its unacknowledged removals. An entry
 * is written together with the head it advances (`append`), in the same transaction as what it announces,
 * so numbers are never skipped and a crash never leaves an entry without its reservation.
 */
export interface FeedRepository {
  /** The head: last sequence number and unacknowledged removals. */
  head(deviceId: string): Promise<FeedHead>;
  /** The last sequence number alone (one item read): what a writer needs to append. */
  lastSeq(deviceId: string): Promise<number>;
  /**
   * Entries with seq >= from (ascending, at most `limit`) and the head, read together (one request when
   * the backlog is short).
   */
  read(deviceId: string, from: number, limit: number): Promise<{ entries: FeedEntry[]; head: FeedHead }>;
  /** The newest `limit` entries, ascending. */
  latest(deviceId: string, limit: number): Promise<FeedEntry[]>;
  /**
   * Appends `entry` (its seq must be head.seq + 1), advancing the head only if it is still at `head.seq`;
   * a removal entry also joins the unacknowledged set.
   */
  append(head: Pick<FeedHead, "seq">, entry: FeedEntry): Write;
  /** Drops an acknowledged removal from the set (nothing when it is not there). */
  acknowledge(deviceId: string, reservationId: string): Write;
  /** Feed writes at or after `since` (ISO), on any device, for the shared change check. */
  changesSince(since: string): Promise<{ deviceId: string; seq: number; createdAt: string }[]>;
}
