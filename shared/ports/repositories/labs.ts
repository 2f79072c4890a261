import type { LabQuotaOverride, StoredLabConfig } from "../../domain/lab.ts";

/** Labs (specs/labs.md): the workspace's lab config and per-user quota overrides. */
export interface LabRepository {
  config(workspaceId: string): Promise<StoredLabConfig | undefined>;
  /**
   * Stores the config if the stored one is still at `readRevision` (undefined: none is stored yet); false when
   * another write came first.
   */
  putConfig(workspaceId: string, config: StoredLabConfig, readRevision: number | undefined): Promise<boolean>;
  quota(workspaceId: string, user: string): Promise<LabQuotaOverride | undefined>;
  /** Sets a user's override (an empty one removes it). */
  putQuota(workspaceId: string, user: string, override: LabQuotaOverride): Promise<void>;
}
