import { z } from "zod";

/** A piece of a workload's output, numbered by the agent from 1 (a retried seq is ignored). */
export const OutputChunk = z.object({
  stream: z.enum(["stdout", "stderr"]),
  seq: z.number().int().min(1),
  data: z.string().max(256 * 1024),
});
export type OutputChunk = z.infer<typeof OutputChunk>;

export const StoredOutputChunk = OutputChunk.extend({ receivedAt: z.string() });
export type StoredOutputChunk = z.infer<typeof StoredOutputChunk>;
