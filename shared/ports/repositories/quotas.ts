import type { Counted, QuotaState } from "../../domain/quota.ts";
import type { Write } from "./write.ts";

export interface QuotaRepository {
  get(workspaceId: string): Promise<QuotaState>;
  /** Sets limits; `null` removes one. */
  setLimits(
    workspaceId: string,
    limits: {
      maxGpus?: number | null;
      maxRunningJobs?: number | null;
      maxSecrets?: number | null;
      maxNamespaces?: number | null;
      maxApplications?: number | null;
    },
  ): Promise<QuotaState>;
  /**
   * Takes one running job and `gpus` GPUs, if the limits are still those of `read` and the use stays under
   * them (the caller checked `read` with quotaRefusal). Fails when the quota changed meanwhile.
   */
  take(workspaceId: string, read: QuotaState, gpus: number): Write;
  /** Counts one object of `kind` more, if its limit is still that of `read` and the count stays under it. */
  takeCount(workspaceId: string, read: QuotaState, kind: Counted): Write;
  /** Counts one object of `kind` less. */
  giveCount(workspaceId: string, kind: Counted): Write;
  /** Gives back what `take` took; fails when less is in use (it never goes below zero). */
  give(workspaceId: string, gpus: number): Write;
}
