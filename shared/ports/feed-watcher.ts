import type { FeedEntry } from "../domain/feed.ts";

/**
 * Wake-ups for long polls. A poll takes a mark, reads the feed, and if there is nothing for it waits
 * for a write to its device's feed after the mark (so a write between the read and the wait is never
 * missed). Writes in this process wake waiters at once; writes by other processes are found by one
 * shared change check per process (see docs/long-polling.md).
 */
export interface FeedWatcher {
  /**
   * A write to a device's feed happened (called by writers in this process, with the entry they wrote,
   * and by the change check, which only knows the sequence number).
   */
  notify(deviceId: string, seq: number, entry?: FeedEntry): void;
  /** The device's notification count, to wait for changes after. */
  mark(deviceId: string): number;
  /**
   * Resolves true when the device's feed changed after `mark`, false after `ms` or on abort.
   * Waiting itself costs no storage reads.
   */
  wait(deviceId: string, mark: number, ms: number, signal?: AbortSignal): Promise<boolean>;
  /**
   * The entries announced for a device after `mark`, when every announcement since carried its entry
   * (writes in this process while a poll waited); undefined when the feed must be read instead.
   */
  entriesSince(deviceId: string, mark: number): FeedEntry[] | undefined;
  /** How many polls wait now (for metrics and tests). */
  waiting(): number;
  /** Wakes every waiting poll (with false) and makes later waits return at once: the host is stopping. */
  close(): void;
  closed(): boolean;
}
