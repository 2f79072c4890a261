import type { ServerKeys } from "../domain/secrets.ts";
import type { Background } from "../ports/background.ts";
import type { Clock } from "../ports/clock.ts";
import type { CloudDeps } from "../ports/cloud.ts";
import type { FeedWatcher } from "../ports/feed-watcher.ts";
import type { SecretKeyring } from "../ports/keyring.ts";
import type { Logger } from "../ports/logger.ts";
import type { Meter } from "../ports/meter.ts";
import type { Repositories } from "../ports/repositories.ts";

/**
 * What use cases depend on, from the least to the most: one low module, so contexts import each other's
 * types without importing each other's code. The host's composition root builds one object that is all of
 * them (hosts/app-deps.ts).
 */
export type StoreDeps = { repos: Repositories; clock: Clock };

export type IdentityDeps = StoreDeps & { keys: ServerKeys; logger: Logger };

export type ReservationDeps = StoreDeps & { keys: ServerKeys; feedWatcher: FeedWatcher };

/** Per-process bookkeeping of placement: jobs being placed, and the passes running per workspace. */
export interface PlacementState {
  placing: Set<string>;
  passes: Map<string, { pass: Promise<void>; again: boolean }>;
}

export type JobDeps = ReservationDeps & {
  logger: Logger;
  /** Opens the secrets a job uses when it is placed (to seal them to its device). */
  secretKeyring: SecretKeyring;
  background: Background;
  config: { deviceTtlSeconds: number; lostAfterSeconds: number };
  stats: { placementConflicts: number; corruptItems: number };
  meter: Meter;
  placement: PlacementState;
  /**
   * Capacity came free in a workspace (a job ended): the host places waiting jobs (in the background). A
   * callback, so the code that ends jobs does not depend on the code that places them.
   */
  capacityFreed(workspaceId: string): Promise<void>;
  /**
   * A device of a workspace joined, left, or changed labels or group: the host reconciles the workspace's
   * applications (in the background). A callback for the same reason as capacityFreed.
   */
  fleetChanged(workspaceId: string): Promise<void>;
  /**
   * One of an application's deployments changed state (it came up, it failed): the host reconciles the
   * application, so a rollout held by its budget goes on (in the background; calls that overlap a pass
   * of the same application run it once more after it, not once each). `more`: a pass stopped at its
   * bound with work left; a host that awaits its background work leaves that to the next sweep.
   */
  applicationChanged(applicationId: string, why?: "changed" | "more"): Promise<void>;
  /** Cloud capacity, when configured. */
  cloud?: CloudDeps;
};

export type CloudJobDeps = JobDeps & { cloud: CloudDeps };

export const hasCloud = (deps: JobDeps): deps is CloudJobDeps => deps.cloud !== undefined;
