import { createFeedWatcher } from "../shared/adapters/feed-watcher.ts";
import { kmsKeyWrapper } from "../shared/adapters/kms/key-wrapper.ts";
import { localKeyWrapper } from "../shared/adapters/local/key-wrapper.ts";
import { createMeter, meteredStore } from "../shared/adapters/meter.ts";
import { repositories } from "../shared/adapters/repositories/index.ts";
import type { AppDeps } from "../shared/app/deps.ts";
import type { AppConfig } from "../shared/config.ts";
import { deriveKeys } from "../shared/domain/secrets.ts";
import { awaitedBackground, detachedBackground } from "../shared/ports/background.ts";
import { type Clock, systemClock } from "../shared/ports/clock.ts";
import type { CloudDeps } from "../shared/ports/cloud.ts";
import type { FeedWatcher } from "../shared/ports/feed-watcher.ts";
import type { Logger } from "../shared/ports/logger.ts";
import type { Store } from "../shared/ports/store.ts";
import {
  coalescing,
  reconcileLeased,
  reconcileQueued,
  reconcileWorkspace,
} from "../shared/usecases/applications/reconcile.ts";
import { deviceAuthCache, forgetDeviceSession } from "../shared/usecases/identity/device-session.ts";
import { REVOKE_TOPIC } from "../shared/usecases/identity/devices.ts";
import { placePending } from "../shared/usecases/jobs/placement.ts";
import { secretKeyring } from "../shared/usecases/secrets/keyring.ts";
import { agentBundleLoader } from "./agent-bundle.ts";
import { dashboardAssetLoader } from "./dashboard-assets.ts";
import { docsAssetLoader } from "./docs-assets.ts";
import type { OpenedStorage } from "./storage.ts";

/**
 * The app's dependencies on a store: shared by every host, so hosts differ only in where things are. Built
 * in dependency order: repositories, then the feed watcher (with the way this engine's processes hear of
 * each other's writes), then what the use cases need, and last the callbacks that close the loops between
 * contexts (capacity freed → placement).
 */
export function buildAppDeps(input: {
  store: Store;
  crossProcess?: OpenedStorage["crossProcess"];
  serverSecret: string;
  logger: Logger;
  config: AppConfig;
  clock?: Clock;
  feedWatcher?: FeedWatcher;
  /** "detached" for long-running hosts (drained on shutdown), "awaited" for Lambda (the default). */
  background?: "detached" | "awaited";
  /** Cloud capacity, when configured (see hosts/cloud.ts). */
  cloud?: CloudDeps;
}): AppDeps {
  const onError = (err: Error) => input.logger.warn("background task failed", { error: err.message });
  const meter = createMeter();
  const stats = { placementConflicts: 0, corruptItems: 0 };
  const repos = repositories(meteredStore(input.store, meter), {
    onCorruptItem(err) {
      stats.corruptItems++;
      const workspaceId = meter.current();
      if (workspaceId) meter.workspace(workspaceId).corruptItems++;
      input.logger.error("skipped a stored item that does not match its schema", {
        error: err.message,
        workspaceId,
      });
    },
  });
  const cross = input.crossProcess ?? { kind: "none" };
  const bus = cross.kind === "broadcast" ? cross.bus : undefined;
  const feedWatcher =
    input.feedWatcher ??
    createFeedWatcher(
      cross.kind === "check"
        ? { feed: repos.feed, logger: input.logger, intervalMs: input.config.changeCheckMs, meter }
        : undefined,
      bus ? { bus, logger: input.logger } : undefined,
    );
  const deviceAuth = deviceAuthCache(input.config.deviceAuthCacheSeconds * 1000);
  // Another server deleted a device (or rotated its token): forget what this one verified.
  bus?.subscribe((topic, message) => {
    if (topic === REVOKE_TOPIC) forgetDeviceSession(deviceAuth, message);
    if (topic === "*") deviceAuth.entries.clear();
  });
  const background =
    input.background === "detached" ? detachedBackground(onError) : awaitedBackground(onError);
  const keys = deriveKeys(input.serverSecret);
  const clock = input.clock ?? systemClock;
  const deps: AppDeps = {
    repos,
    clock,
    logger: input.logger,
    keys,
    config: input.config,
    cloud: input.cloud,
    seenCache: new Map(),
    deviceAuth,
    broadcast: bus,
    stats,
    meter,
    placement: { placing: new Set(), passes: new Map() },
    background,
    storageRequests: () => Object.fromEntries(input.store.requests),
    storage: input.store.describe,
    agentBundle: agentBundleLoader(),
    docsAsset: docsAssetLoader(),
    dashboardAsset: dashboardAssetLoader(),
    secretKeyring: secretKeyring({
      dataKeys: repos.dataKeys,
      wrapper: input.config.kmsKeyId
        ? kmsKeyWrapper(input.config.kmsKeyId)
        : localKeyWrapper(keys.secretsKek),
      clock,
    }),
    feedWatcher,
    capacityFreed: (workspaceId) => deps.background.run(() => placePending(deps, workspaceId)),
    fleetChanged: (workspaceId) => deps.background.run(() => reconcileWorkspace(deps, workspaceId)),
    // Into the queue (a cut-short pass is still in it: the sweeper goes on), then a pass: on a long-running
    // host a second's changes of an application in one pass; on Lambda, one pass at a time per application
    // over every instance, each taking the changes that came during the last.
    applicationChanged: async (applicationId, why = "changed") => {
      const detached = input.background === "detached";
      if (why === "more") {
        if (detached) await deps.background.run(() => rollouts(applicationId));
        return;
      }
      await deps.repos.applications.markDirty(applicationId, deps.clock.now().toISOString());
      await deps.background.run(() =>
        detached ? rollouts(applicationId) : reconcileLeased(deps, applicationId),
      );
    },
  };
  const rollouts = coalescing(async (applicationId: string) => {
    await reconcileQueued(deps, applicationId);
  }, 1000);
  return deps;
}
