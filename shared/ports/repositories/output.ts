import type { OutputChunk, StoredOutputChunk } from "../../domain/output.ts";
import type { Page, PageRequest } from "../pagination.ts";

export interface OutputRepository {
  /** Stores a chunk (kept until `keepUntil`) unless its seq is already stored; returns whether it was new. */
  append(reservationId: string, chunk: OutputChunk, receivedAt: string, keepUntil: string): Promise<boolean>;
  /** Chunks in seq order, optionally one stream only. */
  list(
    reservationId: string,
    page: PageRequest,
    stream?: "stdout" | "stderr",
  ): Promise<Page<StoredOutputChunk>>;
  /** Chunks with seq > `afterSeq`, in seq order, at most `limit` (both streams). */
  since(reservationId: string, afterSeq: number, limit: number): Promise<StoredOutputChunk[]>;
  /**
   * Counts `bytes` more of the reservation's stored output, received `at` and kept until `keepUntil`;
   * returns the total of what is still kept. Counted per day of receipt, each day's count going when that
   * day's output does (so the total follows what expires, at most a day's worth over). Only for output that
   * is capped (an application's): jobs' output is not counted.
   */
  countBytes(reservationId: string, bytes: number, at: string, keepUntil: string): Promise<number>;
  /**
   * Deletes the oldest chunks until at least `bytes` of them are gone (or none is left), uncounting them;
   * returns the bytes deleted. Two at once delete each chunk once, and each is uncounted once.
   */
  dropOldest(reservationId: string, bytes: number): Promise<number>;
}
