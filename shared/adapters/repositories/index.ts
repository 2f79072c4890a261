import type { Repositories } from "../../ports/repositories.ts";
import type { Store } from "../../ports/store.ts";
import { apiKeyRepository } from "./api-keys.ts";
import { commitWrites } from "./base.ts";
import { cloudReservationRepository } from "./cloud-reservations.ts";
import { deviceRepository } from "./devices.ts";
import { feedRepository } from "./feed.ts";
import { jobEventRepository, jobRepository } from "./jobs.ts";
import { nodeGroupRepository } from "./node-groups.ts";
import { outputRepository } from "./output.ts";
import { profileRepository } from "./profiles.ts";
import { quotaRepository } from "./quotas.ts";
import { registrationTokenRepository } from "./registration-tokens.ts";
import { reservationRepository } from "./reservations.ts";
import { workspaceRepository } from "./workspaces.ts";

/** Every repository, written once, on whichever engine the store is. */
export function repositories(store: Store): Repositories {
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
    commit: (writes) => commitWrites(store, writes),
  };
}
