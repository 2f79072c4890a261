import type { Repositories } from "../../ports/repositories.ts";
import { dynamoApiKeyRepository } from "./api-key-repository.ts";
import type { Db } from "./client.ts";
import { dynamoCloudReservationRepository } from "./cloud-reservation-repository.ts";
import { dynamoDeviceRepository } from "./device-repository.ts";
import { dynamoFeedRepository } from "./feed-repository.ts";
import { dynamoJobEventRepository } from "./job-event-repository.ts";
import { dynamoJobRepository } from "./job-repository.ts";
import { dynamoNodeGroupRepository } from "./node-group-repository.ts";
import { dynamoOutputRepository } from "./output-repository.ts";
import { dynamoProfileRepository } from "./profile-repository.ts";
import { dynamoQuotaRepository } from "./quota-repository.ts";
import { dynamoRegistrationTokenRepository } from "./registration-token-repository.ts";
import { dynamoReservationRepository } from "./reservation-repository.ts";
import { dynamoWorkspaceRepository } from "./workspace-repository.ts";

/** Every repository, on one table. */
export function dynamoRepositories(db: Db): Repositories {
  return {
    workspaces: dynamoWorkspaceRepository(db),
    apiKeys: dynamoApiKeyRepository(db),
    registrationTokens: dynamoRegistrationTokenRepository(db),
    nodeGroups: dynamoNodeGroupRepository(db),
    devices: dynamoDeviceRepository(db),
    reservations: dynamoReservationRepository(db),
    feed: dynamoFeedRepository(db),
    output: dynamoOutputRepository(db),
    jobs: dynamoJobRepository(db),
    jobEvents: dynamoJobEventRepository(db),
    profiles: dynamoProfileRepository(db),
    quotas: dynamoQuotaRepository(db),
    cloudReservations: dynamoCloudReservationRepository(db),
  };
}
