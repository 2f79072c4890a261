import type { AppConfig } from "../config.ts";
import type { ServerKeys } from "../domain/secrets.ts";
import type { Background } from "../ports/background.ts";
import type { Clock } from "../ports/clock.ts";
import type { CloudDeps } from "../ports/cloud.ts";
import type { FeedWatcher } from "../ports/feed-watcher.ts";
import type { Logger } from "../ports/logger.ts";
import type { Repositories } from "../ports/repositories.ts";

/** Everything createApp needs, built by the host's composition root. */
export interface AppDeps {
  repos: Repositories;
  clock: Clock;
  logger: Logger;
  keys: ServerKeys;
  config: AppConfig;
  /** Per-process memo of when each device's lastSeenAt was last written (skips writes within the window). */
  seenCache: Map<string, number>;
  /** Wakes long polls when their feed is written. */
  feedWatcher: FeedWatcher;
  /** Work that need not hold up an answer. */
  background: Background;
  /** Counters of this process (shown at /api/v1/metrics). */
  stats: { placementConflicts: number };
  /** Cloud capacity (ECS, EKS), when configured. */
  cloud?: CloudDeps;
  /** Storage requests sent so far, by command. */
  storageRequests: () => Record<string, number>;
}
