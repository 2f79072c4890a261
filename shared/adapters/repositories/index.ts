import type { Repositories } from "../../ports/repositories.ts";
import type { Store } from "../../ports/store.ts";
import { apiKeyRepository } from "./api-keys.ts";
import { applicationRepository, deploymentRepository } from "./applications.ts";
import { type CorruptItemError, commitWrites, onCorruptItem } from "./base.ts";
import { cloudReservationRepository } from "./cloud-reservations.ts";
import { clusterRepository } from "./cluster.ts";
import { dataKeyRepository } from "./data-keys.ts";
import { deviceRepository } from "./devices.ts";
import { feedRepository } from "./feed.ts";
import { healthRepository } from "./health.ts";
import { jobEventRepository, jobRepository } from "./jobs.ts";
import { labRepository } from "./labs.ts";
import { namespaceRepository } from "./namespaces.ts";
import { nodeGroupRepository } from "./node-groups.ts";
import { outputRepository } from "./output.ts";
import { profileRepository } from "./profiles.ts";
import { quotaRepository } from "./quotas.ts";
import { registrationTokenRepository } from "./registration-tokens.ts";
import { reservationRepository } from "./reservations.ts";
import { secretRepository } from "./secrets.ts";
import { usageRepository } from "./usage.ts";
import { workspaceRepository } from "./workspaces.ts";

/**
 * Every repository, written once, on whichever engine the store is. `onCorruptItem` hears of each stored
 * item a list skipped because it no longer matches its schema.
 */
export function repositories(
  store: Store,
  opts: { onCorruptItem?: (err: CorruptItemError) => void } = {},
): Repositories {
  if (opts.onCorruptItem) onCorruptItem(store, opts.onCorruptItem);
  return {
    workspaces: workspaceRepository(store),
    apiKeys: apiKeyRepository(store),
    registrationTokens: registrationTokenRepository(store),
    nodeGroups: nodeGroupRepository(store),
    devices: deviceRepository(store),
    reservations: reservationRepository(store),
    feed: feedRepository(store),
    output: outputRepository(store),
    jobs: jobRepository(store),
    jobEvents: jobEventRepository(store),
    profiles: profileRepository(store),
    quotas: quotaRepository(store),
    cloudReservations: cloudReservationRepository(store),
    dataKeys: dataKeyRepository(store),
    namespaces: namespaceRepository(store),
    secrets: secretRepository(store),
    applications: applicationRepository(store),
    deployments: deploymentRepository(store),
    labs: labRepository(store),
    cluster: clusterRepository(store),
    health: healthRepository(store),
    usage: usageRepository(store),
    commit: (writes) => commitWrites(store, writes),
  };
}
