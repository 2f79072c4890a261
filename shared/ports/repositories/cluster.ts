import type { ClusterSummary, StoredClusterConfig } from "../../domain/cluster.ts";

/** A workspace's cluster config and its cluster-info summary (specs/launcher-extras.md §3). */
export interface ClusterRepository {
  /** The stored config (undefined: never written). */
  config(workspaceId: string): Promise<StoredClusterConfig | undefined>;
  /**
   * Stores the config if the stored one is still at `readRevision` (undefined: none is stored yet); false when
   * another write came first.
   */
  putConfig(
    workspaceId: string,
    config: StoredClusterConfig,
    readRevision: number | undefined,
  ): Promise<boolean>;
  summary(workspaceId: string): Promise<ClusterSummary | undefined>;
  /**
   * Takes the rebuild lease until `until`, if no lease is held at `now` and the summary is still older than
   * `staleBefore` (or absent): true for the one request that is to rebuild it.
   */
  leaseRebuild(
    workspaceId: string,
    at: { now: string; until: string; staleBefore: string },
  ): Promise<boolean>;
  /**
   * Stores a rebuilt summary (and gives the lease up), unless a newer one is stored already; false then.
   */
  putSummary(workspaceId: string, info: Record<string, unknown>, generatedAt: string): Promise<boolean>;
}
