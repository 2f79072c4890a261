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
}
