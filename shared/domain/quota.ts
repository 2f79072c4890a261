import { BerthError, ErrorCode } from "./errors.ts";

/** A workspace's quota: its limits and the use counted against them (jobs not yet ended, objects held). */
export interface QuotaState {
  /** As set; a counted kind's limit unset means its default (COUNTED), the others no limit. */
  limits: {
    maxGpus?: number;
    maxRunningJobs?: number;
    maxSecrets?: number;
    maxNamespaces?: number;
    maxApplications?: number;
  };
  used: { gpus: number; runningJobs: number; secrets: number; namespaces: number; applications: number };
}

/**
 * Objects a workspace holds that count against a limit with a default (Synpse's `ProjectQuota`): counted in
 * the transaction that creates or deletes one. `default` is not counted among namespaces (it always exists).
 */
export const COUNTED = {
  secrets: { limit: "maxSecrets", used: "usedSecrets", default: 1000, noun: "secrets" },
  namespaces: {
    limit: "maxNamespaces",
    used: "usedNamespaces",
    default: 20,
    noun: "namespaces besides default",
  },
  applications: { limit: "maxApplications", used: "usedApplications", default: 100, noun: "applications" },
} as const;
export type Counted = keyof typeof COUNTED;

/** The limit in force for a counted kind. */
export const countLimit = (q: QuotaState, kind: Counted) =>
  q.limits[COUNTED[kind].limit] ?? COUNTED[kind].default;

/** `maxSecrets` → `max-secrets`: the CLI's flag for a limit. */
const flagOf = (limit: string) => limit.replace(/[A-Z]/g, (ch) => `-${ch.toLowerCase()}`);

/** 429 QuotaExceeded when one more of `kind` would pass its limit, naming the limit and the use. */
export function checkCount(q: QuotaState, kind: Counted): void {
  const limit = countLimit(q, kind);
  const used = q.used[kind];
  const { limit: name, noun } = COUNTED[kind];
  if (used >= limit)
    throw new BerthError(
      ErrorCode.QuotaExceeded,
      `quota exceeded: ${name} is ${limit} and the workspace holds ${used} ${noun}; delete some, or ask an admin to raise it (berth quotas set --${flagOf(name)} N)`,
      { limit: name, value: limit, used, asked: 1 },
    );
}

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
