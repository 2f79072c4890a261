import type { ApiKeyRepository } from "./repositories/api-keys.ts";
import type { ApplicationRepository, DeploymentRepository } from "./repositories/applications.ts";
import type { CloudReservationRepository } from "./repositories/cloud-reservations.ts";
import type { ClusterRepository } from "./repositories/cluster.ts";
import type { DataKeyRepository } from "./repositories/data-keys.ts";
import type { DeviceRepository } from "./repositories/devices.ts";
import type { FeedRepository } from "./repositories/feed.ts";
import type { HealthRepository } from "./repositories/health.ts";
import type { JobEventRepository, JobRepository } from "./repositories/jobs.ts";
import type { LabRepository } from "./repositories/labs.ts";
import type { NamespaceRepository } from "./repositories/namespaces.ts";
import type { NodeGroupRepository } from "./repositories/node-groups.ts";
import type { OutputRepository } from "./repositories/output.ts";
import type { ProfileRepository } from "./repositories/profiles.ts";
import type { QuotaRepository } from "./repositories/quotas.ts";
import type { RegistrationTokenRepository } from "./repositories/registration-tokens.ts";
import type { ReservationRepository } from "./repositories/reservations.ts";
import type { SecretRepository } from "./repositories/secrets.ts";
import type { UsageRepository } from "./repositories/usage.ts";
import type { WorkspaceRepository } from "./repositories/workspaces.ts";
import type { Committed, Write } from "./repositories/write.ts";

export type { ApiKeyRepository } from "./repositories/api-keys.ts";
export type { ApplicationRepository, DeploymentRepository } from "./repositories/applications.ts";
export type { CloudReservationRepository } from "./repositories/cloud-reservations.ts";
export type { ClusterRepository } from "./repositories/cluster.ts";
export type { DataKeyRepository, StoredDataKey } from "./repositories/data-keys.ts";
export type {
  DeviceClaim,
  DeviceRefresh,
  DeviceRepository,
  JobHold,
  ServicePulse,
} from "./repositories/devices.ts";
export type { FeedRepository } from "./repositories/feed.ts";
export type { HealthEventFilter, HealthRepository, StoredHealth } from "./repositories/health.ts";
export type { JobEventRepository, JobRepository, JobTimeRange } from "./repositories/jobs.ts";
export type { LabRepository, PrepullState } from "./repositories/labs.ts";
export type { NamespaceGuard, NamespaceRepository } from "./repositories/namespaces.ts";
export type { NodeGroupPatch, NodeGroupRepository } from "./repositories/node-groups.ts";
export type { OutputRepository } from "./repositories/output.ts";
export type { ProfileRepository } from "./repositories/profiles.ts";
export type { QuotaRepository } from "./repositories/quotas.ts";
export type {
  RegistrationTokenPatch,
  RegistrationTokenRepository,
} from "./repositories/registration-tokens.ts";
export type { ReservationRepository } from "./repositories/reservations.ts";
export type { SecretRepository } from "./repositories/secrets.ts";
export type { StoredUsage, UsageRepository } from "./repositories/usage.ts";
export type { WorkspaceRepository } from "./repositories/workspaces.ts";
export type { Committed, Saved, VersionedWrite, Write } from "./repositories/write.ts";

/**
 * Persistence ports, one repository per entity, all over one Store (ports/store.ts). Every implementation
 * passes test/contract/repositories.contract.ts on every engine. Reads of one object by id are strongly
 * consistent; lists through an index may lag writes by a moment (DynamoDB). Methods throw BerthError
 * (Conflict | NotFound) for the documented races, StorageUnavailableError when the engine cannot be
 * reached, and other errors for bugs.
 */
export interface Repositories {
  workspaces: WorkspaceRepository;
  apiKeys: ApiKeyRepository;
  registrationTokens: RegistrationTokenRepository;
  nodeGroups: NodeGroupRepository;
  devices: DeviceRepository;
  reservations: ReservationRepository;
  feed: FeedRepository;
  output: OutputRepository;
  jobs: JobRepository;
  jobEvents: JobEventRepository;
  profiles: ProfileRepository;
  quotas: QuotaRepository;
  cloudReservations: CloudReservationRepository;
  dataKeys: DataKeyRepository;
  namespaces: NamespaceRepository;
  secrets: SecretRepository;
  applications: ApplicationRepository;
  deployments: DeploymentRepository;
  labs: LabRepository;
  cluster: ClusterRepository;
  health: HealthRepository;
  usage: UsageRepository;
  /** Commits writes of any repositories in one transaction: all of them, or (a condition failed) none. */
  commit(writes: (Write | undefined | false)[]): Promise<Committed>;
}
