import { z } from "zod";

/**
 * A running job's resource use (specs/launcher-extras.md §1): the Launcher's field names and units, absent
 * meaning "not measured" (never 0 for unknown). Memory in MiB.
 */
export const UsageSample = z.object({
  /** % of the CPUs the job may use (its cpuCount limit, else the device's logical cores), 0-100. */
  cpuPercent: z.number().min(0).max(100).optional(),
  /** CPU seconds since it started, cumulative. */
  cpuTime: z.number().min(0).optional(),
  residentMemory: z.number().min(0).optional(),
  virtualMemory: z.number().min(0).optional(),
  /** Berth: cores in use (CPU seconds per second). */
  cpuCores: z.number().min(0).optional(),
  /** Berth: the job's GPUs. */
  gpus: z
    .array(
      z.object({
        index: z.number().int().min(0),
        utilizationPercent: z.number().min(0).max(100).optional(),
        memoryUsedMiB: z.number().min(0).optional(),
      }),
    )
    .max(64)
    .optional(),
  sampledAt: z.iso.datetime({ offset: true }),
});
export type UsageSample = z.infer<typeof UsageSample>;

/** `POST /api/v1/agent/reservations/{id}/usage`. */
export const UsageBatch = z.object({ samples: z.array(UsageSample).min(1).max(60) });

/** The sampling lease (§1): how long one lasts, when a follower renews it, how often the agent samples. */
export const USAGE = {
  leaseMs: 60_000,
  renewWithinMs: 20_000,
  intervalSeconds: 5,
  /** A stored sample younger than this is answered at once. */
  freshMs: 30_000,
  /** How long a one-shot request waits for a first sample. */
  waitMs: 10_000,
  /** A sample older than this (by its own time) is garbage. */
  maxAgeMs: 3600_000,
} as const;
