import type { Db } from "../adapters/dynamo/client.ts";
import { FEED_CHANGE_SHARDS } from "../adapters/dynamo/feed-repository.ts";
import { dynamoRepositories } from "../adapters/dynamo/repositories.ts";
import { createFeedWatcher } from "../adapters/feed-watcher.ts";
import type { AppConfig } from "../config.ts";
import { deriveKeys } from "../domain/secrets.ts";
import { awaitedBackground, detachedBackground } from "../ports/background.ts";
import type { Clock } from "../ports/clock.ts";
import { systemClock } from "../ports/clock.ts";
import type { CloudDeps } from "../ports/cloud.ts";
import type { FeedWatcher } from "../ports/feed-watcher.ts";
import type { Logger } from "../ports/logger.ts";
import type { AppDeps } from "./deps.ts";

/**
 * The app's dependencies on a DynamoDB table: shared by every host, so hosts differ only in where
 * things are. The feed watcher runs the shared change check unless one is passed in (tests).
 */
export function buildAppDeps(input: {
  db: Db;
  serverSecret: string;
  logger: Logger;
  config: AppConfig;
  clock?: Clock;
  feedWatcher?: FeedWatcher;
  /** "detached" for long-running hosts (drained on shutdown), "awaited" for Lambda (the default). */
  background?: "detached" | "awaited";
  /** Cloud capacity, when configured (see buildCloudDeps). */
  cloud?: CloudDeps;
}): AppDeps {
  const onError = (err: Error) => input.logger.warn("background task failed", { error: err.message });
  const repos = dynamoRepositories(input.db);
  return {
    repos,
    clock: input.clock ?? systemClock,
    logger: input.logger,
    keys: deriveKeys(input.serverSecret),
    config: input.config,
    cloud: input.cloud,
    seenCache: new Map(),
    stats: { placementConflicts: 0 },
    background: input.background === "detached" ? detachedBackground(onError) : awaitedBackground(onError),
    storageRequests: () => Object.fromEntries(input.db.requests),
    feedWatcher:
      input.feedWatcher ??
      createFeedWatcher({ feed: repos.feed, shards: FEED_CHANGE_SHARDS, logger: input.logger }),
  };
}
