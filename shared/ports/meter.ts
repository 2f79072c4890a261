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
  /** Its agents' time covered by their polls (held, plus the come-back delay they were told), in ms. */
  agentMs: number;
  /** Storage calls made serving its agents' routes (authentication, presence, polls, feedback). */
  agentStorage: number;
}

/** Work the meter tells apart, across workspaces: agent routes, and the process's shared change check. */
export type MeterActivity = "agent" | "change-check";

/** The process's totals by activity (every workspace's, and work done for none). */
export interface ActivityTotals {
  agentMs: number;
  agentStorage: number;
  changeCheckStorage: number;
}

/**
 * Counters by workspace, so a tenant sees its own and nobody else's (the process-wide view is the
 * operator's). Code runs "within" a workspace once its request is authenticated; whatever it awaits or
 * starts from there counts against that workspace.
 */
export interface Meter {
  /** Runs `fn` for a workspace (undefined: not known yet) and, optionally, as one of the tracked activities. */
  within<T>(workspaceId: string | undefined, fn: () => T, activity?: MeterActivity): T;
  /** The workspace the running code works for, if any. */
  current(): string | undefined;
  /** A workspace's counters in this process (created on first use). */
  workspace(workspaceId: string): WorkspaceCounters;
  /** Agent time covered by a poll, counted against its workspace and the process. */
  agentTime(workspaceId: string, ms: number): void;
  /** The process's totals by activity. */
  readonly totals: ActivityTotals;
}
