import type { LabQuotaOverride, StoredLabConfig } from "../../domain/lab.ts";
import type { LabItem, LabKind } from "../../domain/lab-state.ts";
import type { Page, PageRequest } from "../pagination.ts";
import type { Write } from "./write.ts";

/**
 * The prepuller's bookkeeping of a workspace (specs/labs.md §7): when its last round ran, the prepull in
 * flight on each device, and images marked present at once from a prepull's `ok` (until the device's next
 * inventory says for itself).
 */
export interface PrepullState {
  lastRunAt: string;
  inFlight: Record<string, { image: string; reservationId: string }>;
  marked: Record<string, Record<string, string>>;
  v: number;
}

/** Labs (specs/labs.md): the workspace's lab config, per-user quota overrides, the per-user lab items. */
export interface LabRepository {
  config(workspaceId: string): Promise<StoredLabConfig | undefined>;
  /**
   * Stores the config if the stored one is still at `readRevision` (undefined: none is stored yet); false when
   * another write came first.
   */
  putConfig(workspaceId: string, config: StoredLabConfig, readRevision: number | undefined): Promise<boolean>;
  /** Workspaces that have a lab config (the prepuller's work list). */
  configured(limit: number): Promise<string[]>;
  quota(workspaceId: string, user: string): Promise<LabQuotaOverride | undefined>;
  /** Sets a user's override (an empty one removes it). */
  putQuota(workspaceId: string, user: string, override: LabQuotaOverride): Promise<void>;
  get(workspaceId: string, kind: LabKind, user: string): Promise<LabItem | undefined>;
  /** Writes `next` if the stored item is still at version `readV` (undefined: none is stored). */
  put(next: LabItem, readV: number | undefined): Write;
  /** Removes the item if it is still at version `v`; false when it changed (or is gone). */
  remove(item: LabItem): Promise<boolean>;
  list(workspaceId: string, kind: LabKind, page: PageRequest): Promise<Page<LabItem>>;
  prepullState(workspaceId: string): Promise<PrepullState | undefined>;
  /** Stores the prepuller's state if it is still at `readV` (undefined: none yet); false otherwise. */
  putPrepullState(workspaceId: string, state: PrepullState, readV: number | undefined): Promise<boolean>;
}
