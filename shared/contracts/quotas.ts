import { z } from "@hono/zod-openapi";

/**
 * A workspace's quota (jobs.md §8). "Running" jobs are jobs accepted and not yet ended (pending, running or
 * suspended): the quota is taken at submit, so a submit over it is refused and nothing is created.
 */
export const QuotaLimits = z.object({
  maxGpus: z.number().int().min(0).optional().openapi({ description: "GPUs held by running jobs, at most" }),
  maxRunningJobs: z.number().int().min(0).optional().openapi({ description: "jobs not yet ended, at most" }),
  maxSecrets: z
    .number()
    .int()
    .min(0)
    .openapi({ description: "secrets in all namespaces, at most (1,000 unless set)" }),
  maxNamespaces: z
    .number()
    .int()
    .min(0)
    .openapi({ description: "namespaces besides default, at most (20 unless set)" }),
  maxApplications: z
    .number()
    .int()
    .min(0)
    .openapi({ description: "applications in all namespaces, at most (100 unless set)" }),
});

/** A limit beyond any fleet: larger ones are a typo, not a plan. */
const MAX_QUOTA = 1_000_000_000;

/** A limit to set; `null` removes it. */
const quotaLimit = () =>
  z
    .number()
    .int("must be a whole number")
    .min(0)
    .max(MAX_QUOTA, `must be at most ${MAX_QUOTA}`)
    .nullable()
    .optional();

export const SetQuotaRequest = z
  .object({
    maxGpus: quotaLimit(),
    maxRunningJobs: quotaLimit(),
    maxSecrets: quotaLimit(),
    maxNamespaces: quotaLimit(),
    maxApplications: quotaLimit(),
  })
  .openapi("SetQuotaRequest");
export type SetQuotaRequest = z.infer<typeof SetQuotaRequest>;

export const QuotaView = z
  .object({
    limits: QuotaLimits,
    use: z.object({
      gpus: z.number(),
      runningJobs: z.number(),
      secrets: z.number(),
      namespaces: z.number(),
      applications: z.number(),
    }),
  })
  .openapi("Quota");
export type QuotaView = z.infer<typeof QuotaView>;
