/** What one workspace costs this process: shown to the workspace's admins at `GET /api/v1/metrics`. */
export interface WorkspaceCounters {
  /** Storage calls made while serving the workspace's requests (and the work they started), by operation. */
  storage: Map<string, number>;
  /** The workspace's agents' long polls waiting in this process now. */
  pollsWaiting: number;
  /** GPU claims of the workspace's jobs lost to another job and retried elsewhere. */
  placementConflicts: number;
  /** Stored items its lists skipped because they no longer match their schema (each is logged). */
  corruptItems: number;
}

/**
 * Counters by workspace, so a tenant sees its own and nobody else's (the process-wide view is the
 * operator's). Code runs "within" a workspace once its request is authenticated; whatever it awaits or
 * starts from there counts against that workspace.
 */
export interface Meter {
  within<T>(workspaceId: string, fn: () => T): T;
  /** The workspace the running code works for, if any. */
  current(): string | undefined;
  /** A workspace's counters in this process (created on first use). */
  workspace(workspaceId: string): WorkspaceCounters;
}
