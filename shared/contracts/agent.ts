import { z } from "@hono/zod-openapi";
import { jsonBytes } from "../domain/bounds.ts";

/** A machine's report of itself, as GPUd or Berth's agent sends it (a few KiB in practice). */
export const MAX_MACHINE_INFO_BYTES = 64 * 1024;

export const HeartbeatRequest = z
  .object({
    // Only its summary is kept (leaves of at most 256 bytes, at most 64 GPUs); the whole is bounded too.
    machineInfo: z
      .record(z.string(), z.unknown())
      .refine((m) => jsonBytes(m) <= MAX_MACHINE_INFO_BYTES, {
        message: `must be at most ${MAX_MACHINE_INFO_BYTES} bytes as JSON`,
      })
      .optional(),
    agentVersion: z.string().max(100).optional(),
  })
  .openapi("HeartbeatRequest");
export type HeartbeatRequest = z.infer<typeof HeartbeatRequest>;

export const HeartbeatResponse = z
  .object({
    serverTime: z.string(),
    heartbeatIntervalSeconds: z.number().openapi({ description: "send the next heartbeat within this" }),
  })
  .openapi("HeartbeatResponse");
