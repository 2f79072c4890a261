/** A workspace's quota: its limits and the use counted against them (jobs not yet ended). */
export interface QuotaState {
  /** As set; `maxSecrets` unset means DEFAULT_MAX_SECRETS (the others: no limit). */
  limits: { maxGpus?: number; maxRunningJobs?: number; maxSecrets?: number };
  used: { gpus: number; runningJobs: number; secrets: number };
}

/** Secrets a workspace may hold when no `maxSecrets` is set (specs/secrets.md §1). */
export const DEFAULT_MAX_SECRETS = 1000;

/** The secret limit in force. */
export const secretLimit = (q: QuotaState) => q.limits.maxSecrets ?? DEFAULT_MAX_SECRETS;

/** Which limit a submit would exceed, and by how much. */
export type QuotaRefusal = {
  limit: "maxGpus" | "maxRunningJobs";
  value: number;
  used: number;
  asked: number;
};

/** The limit a job asking for `gpus` GPUs would exceed under `q`, if any. */
export function quotaRefusal(q: QuotaState, gpus: number): QuotaRefusal | undefined {
  const { maxRunningJobs, maxGpus } = q.limits;
  if (maxRunningJobs !== undefined && q.used.runningJobs + 1 > maxRunningJobs)
    return { limit: "maxRunningJobs", value: maxRunningJobs, used: q.used.runningJobs, asked: 1 };
  if (maxGpus !== undefined && q.used.gpus + gpus > maxGpus)
    return { limit: "maxGpus", value: maxGpus, used: q.used.gpus, asked: gpus };
  return undefined;
}
