import type { AppConfig } from "../config.ts";
import type { ServerKeys } from "../domain/secrets.ts";
import type { Clock } from "../ports/clock.ts";
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
}
