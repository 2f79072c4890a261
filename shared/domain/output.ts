import { z } from "zod";
import { text } from "./bounds.ts";

/** The most one output chunk may carry. */
export const MAX_CHUNK_BYTES = 256 * 1024;

/** A piece of a workload's output, numbered by the agent from 1 (a retried seq is ignored). */
export const OutputChunk = z.object({
  stream: z.enum(["stdout", "stderr"]),
  seq: z.number().int().min(1),
  // Bytes, not characters: a chunk is one item (256 KiB of 3-byte characters would not fit one).
  data: text(MAX_CHUNK_BYTES),
  /** An application's: the container (or program) that wrote it. */
  container: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,30}$/)
    .optional(),
});
export type OutputChunk = z.infer<typeof OutputChunk>;

// Read back as stored (chunks written before the byte bound may be longer).
export const StoredOutputChunk = OutputChunk.extend({ data: z.string(), receivedAt: z.string() });
export type StoredOutputChunk = z.infer<typeof StoredOutputChunk>;

/** How long output is kept after its reservation ends (a job's), or after it arrives (an application's). */
export const OUTPUT_RETENTION_DAYS = { afterReservation: 30, application: 7 } as const;

/**
 * An application's logs on one device are for debugging, not an archive (specs/applications.md §6): past
 * `cap` bytes the oldest chunks go, down to `trimTo` (so that a trim is one every MiB, not one per chunk).
 */
export const APPLICATION_LOG_BYTES = { cap: 5 * 1024 * 1024, trimTo: 4 * 1024 * 1024 } as const;
