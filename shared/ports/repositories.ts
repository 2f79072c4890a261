import type { JobEvent } from "../contracts/jobs.ts";
import type { ProfileView } from "../contracts/profiles.ts";
import type { AgentReservation, OutputChunk } from "../contracts/reservations.ts";
import type { ApiKey } from "../domain/api-key.ts";
import type { CloudReservation, CloudState } from "../domain/cloud-reservation.ts";
import type { Device } from "../domain/device.ts";
import type { Job } from "../domain/job.ts";
import type { NodeGroup } from "../domain/node-group.ts";
import type { RegistrationToken } from "../domain/registration-token.ts";
import type { Reservation, ReservationResult, ReservationState } from "../domain/reservation.ts";
import type { Workspace } from "../domain/workspace.ts";
import type { Page, PageRequest } from "./pagination.ts";

/**
 * Persistence ports. Every implementation must pass test/contract/repositories.contract.ts.
 * Reads of a single object by id are strongly consistent; lists may lag writes by a moment.
 * Methods throw BerthError(Conflict | NotFound) for the documented races and StorageError otherwise.
 */

export interface WorkspaceRepository {
  get(id: string): Promise<Workspace | undefined>;
  /** Creates the workspace; throws Conflict when it exists. */
  create(workspace: Workspace): Promise<void>;
}

export interface ApiKeyRepository {
  /** Creates the key; throws Conflict when the id is taken. */
  create(key: ApiKey): Promise<void>;
  /** The key with that id in any workspace (authentication looks keys up by the id in the token). */
  get(id: string): Promise<ApiKey | undefined>;
  /** Keys of a workspace, oldest first; revoked keys only when asked for. */
  list(workspaceId: string, page: PageRequest, opts?: { includeRevoked?: boolean }): Promise<Page<ApiKey>>;
  /**
   * Marks the key revoked. Returns false when it was already revoked (nothing written);
   * throws NotFound when it does not exist in that workspace.
   */
  revoke(workspaceId: string, id: string, at: string): Promise<boolean>;
  /** Records use, at most once per `resolutionMs`; never fails the caller's request. */
  touch(id: string, at: string, resolutionMs: number): Promise<void>;
}

export type RegistrationTokenPatch = Partial<
  Pick<RegistrationToken, "name" | "description" | "labels" | "environmentVariables" | "namingStrategy">
> & {
  /** null removes the field */
  maxRegistrations?: number | null;
  nodeGroup?: string | null;
  expiresAt?: string | null;
};

export interface RegistrationTokenRepository {
  /** Throws Conflict when the id is taken. */
  create(token: RegistrationToken): Promise<void>;
  get(id: string): Promise<RegistrationToken | undefined>;
  list(workspaceId: string, page: PageRequest): Promise<Page<RegistrationToken>>;
  /** Throws NotFound unless the token exists in that workspace. */
  update(
    workspaceId: string,
    id: string,
    patch: RegistrationTokenPatch,
    at: string,
  ): Promise<RegistrationToken>;
  /** Throws NotFound unless the token exists in that workspace. */
  delete(workspaceId: string, id: string): Promise<void>;
  /**
   * Counts one registration, atomically with the cap and the expiry: false (and nothing written) when
   * the token is gone, expired at `now`, or at `maxRegistrations`.
   */
  claimRegistration(id: string, now: string): Promise<boolean>;
  /** Gives a registration back (a device registered with it was deleted, or its creation failed). */
  releaseRegistration(id: string): Promise<void>;
}

export type NodeGroupPatch = Partial<Pick<NodeGroup, "description" | "labels">>;

export interface NodeGroupRepository {
  /** Throws Conflict when the workspace already has a group of that name. */
  create(group: NodeGroup): Promise<void>;
  get(workspaceId: string, name: string): Promise<NodeGroup | undefined>;
  /** By id, in any workspace (GPUd may name a group by id); may lag a create by a moment. */
  getById(id: string): Promise<NodeGroup | undefined>;
  list(workspaceId: string, page: PageRequest): Promise<Page<NodeGroup>>;
  /** Throws NotFound. */
  update(workspaceId: string, name: string, patch: NodeGroupPatch, at: string): Promise<NodeGroup>;
  /** Throws NotFound, or Conflict while devices are in the group. */
  delete(workspaceId: string, name: string): Promise<void>;
  /** Counts a device into the group; false when the group does not exist (nothing written). */
  join(workspaceId: string, name: string): Promise<boolean>;
  leave(workspaceId: string, name: string): Promise<void>;
}

/** What a login or heartbeat changes on an existing device. */
export type DeviceRefresh = Partial<
  Pick<
    Device,
    | "info"
    | "resources"
    | "labels"
    | "machineInfo"
    | "agentVersion"
    | "publicKey"
    | "encryptionKey"
    | "sessionGeneration"
    | "sessionTokenHash"
    | "lastSeenAt"
  >
>;

export interface DeviceRepository {
  /** Throws Conflict when the id is taken. */
  create(device: Device): Promise<void>;
  get(id: string): Promise<Device | undefined>;
  /** A workspace's devices, oldest first; `keep` filters in memory without breaking pages. */
  list(workspaceId: string, page: PageRequest, keep?: (d: Device) => boolean): Promise<Page<Device>>;
  /** Name and labels; throws NotFound unless the device exists in that workspace. */
  update(
    workspaceId: string,
    id: string,
    patch: Partial<Pick<Device, "name" | "labels">>,
    at: string,
  ): Promise<Device>;
  /** Login and heartbeat updates; throws NotFound when the device was deleted meanwhile. */
  refresh(id: string, fields: DeviceRefresh, at: string): Promise<Device>;
  /** Records that the agent was seen, at most once per `resolutionMs`. */
  touch(id: string, at: string, resolutionMs: number): Promise<void>;
  /** Deletes it and returns what it was; throws NotFound unless it exists in that workspace. */
  delete(workspaceId: string, id: string): Promise<Device>;
  /** Every device of a workspace (placement reads them all). */
  listAll(workspaceId: string): Promise<Device[]>;
  /** Gives GPU indices to a job if none of them is taken (all or nothing); false otherwise, nothing written. */
  claimGpus(deviceId: string, indices: number[], jobId: string): Promise<boolean>;
  /** Gives back the indices the job holds (indices another job holds are left alone). */
  releaseGpus(deviceId: string, indices: number[], jobId: string): Promise<void>;
}

/** Fields a state transition may set besides state, version and updatedAt. */
export type ReservationChange = Partial<
  Pick<Reservation, "removeSeq" | "deletedAt" | "result" | "startedAt" | "pid">
>;

export interface ReservationRepository {
  /** Stores the reservation (in its device's partition) and its id pointer. Throws Conflict on a taken id. */
  create(reservation: Reservation): Promise<void>;
  /** A reservation of that device (how agents address theirs: another device's id is simply absent). */
  get(deviceId: string, id: string): Promise<Reservation | undefined>;
  /** A reservation by id alone (users), through its pointer. */
  getById(id: string): Promise<Reservation | undefined>;
  /** Several reservations of one device, strongly consistent; missing ids are left out. */
  getMany(deviceId: string, ids: string[]): Promise<Reservation[]>;
  /** Every reservation of a device that is not yet `deleted` (boot sync). */
  listForDevice(deviceId: string): Promise<Reservation[]>;
  /** A workspace's reservations, oldest first. */
  list(
    workspaceId: string,
    page: PageRequest,
    keep?: (r: Reservation) => boolean,
  ): Promise<Page<Reservation>>;
  /**
   * Moves `current` to `to` if it is still at `current.state` and `current.version` (bumping the version).
   * Returns the new reservation, or undefined when another writer changed it first (nothing written).
   */
  transition(
    current: Pick<Reservation, "id" | "nodeId" | "state" | "version">,
    to: ReservationState,
    change: ReservationChange,
    at: string,
  ): Promise<Reservation | undefined>;
  /**
   * Stores the first result (and moves `pending`/`delivered` to its state) if `current.version` is still
   * current and no result is stored. Returns undefined when that condition failed (nothing written).
   */
  recordResult(current: Reservation, result: ReservationResult, at: string): Promise<Reservation | undefined>;
  /** Live reservations whose expiry is at or before `now`, from one shard of the expiry index. */
  expiring(shard: number, now: string, limit: number): Promise<Reservation[]>;
}

/** One entry of a device's feed: a reservation to apply or to remove, as the agent receives it. */
export interface FeedEntry {
  deviceId: string;
  seq: number;
  kind: "apply" | "remove" | "control";
  reservation: AgentReservation;
  createdAt: string;
  /** When the entry may be garbage-collected (the reservation's expiry plus a day). */
  expiresAt: string;
}

export interface FeedRepository {
  /** The device's last allocated sequence number and its unacknowledged removals. */
  head(deviceId: string): Promise<{ seq: number; removals: string[] }>;
  /** Allocates the next sequence number (atomic ADD), adding `removal` to the unacknowledged set. */
  allocate(deviceId: string, removal?: string): Promise<number>;
  /** Drops an acknowledged removal from the set. */
  acknowledge(deviceId: string, reservationId: string): Promise<void>;
  append(entry: FeedEntry): Promise<void>;
  /** Entries with seq >= from, ascending, at most `limit`. */
  from(deviceId: string, from: number, limit: number): Promise<FeedEntry[]>;
  /** The newest `limit` entries, ascending. */
  latest(deviceId: string, limit: number): Promise<FeedEntry[]>;
  /** Entries written at or after `since` (ISO) on one shard of the change index, for the change check. */
  changesSince(shard: number, since: string): Promise<{ deviceId: string; seq: number; createdAt: string }[]>;
}

export interface StoredOutputChunk extends OutputChunk {
  receivedAt: string;
}

export interface OutputRepository {
  /** Stores a chunk unless its seq is already stored; returns whether it was new. */
  append(reservationId: string, chunk: OutputChunk, receivedAt: string, expiresAt: string): Promise<boolean>;
  /** Chunks in seq order, optionally one stream only. */
  list(
    reservationId: string,
    page: PageRequest,
    stream?: "stdout" | "stderr",
  ): Promise<Page<StoredOutputChunk>>;
  /** Chunks with seq > `afterSeq`, in seq order, at most `limit` (both streams). */
  since(reservationId: string, afterSeq: number, limit: number): Promise<StoredOutputChunk[]>;
}

export interface JobTimeRange {
  start?: string;
  end?: string;
}

export interface JobRepository {
  /** Throws Conflict when the id is taken. */
  create(job: Job): Promise<void>;
  get(id: string): Promise<Job | undefined>;
  /** A workspace's jobs by submission time (inclusive bounds), oldest first. */
  list(
    workspaceId: string,
    range: JobTimeRange,
    page: PageRequest,
    keep?: (j: Job) => boolean,
  ): Promise<Page<Job>>;
  /**
   * Applies `changes` if the job is still at `current.version` (bumping it). Returns the new job, or
   * undefined when another writer changed it first (nothing written).
   */
  update(current: Job, changes: Partial<Job>, at: string): Promise<Job | undefined>;
  /** A workspace's jobs waiting for placement, oldest first. */
  pending(workspaceId: string, limit: number): Promise<Job[]>;
  /** Workspaces that have jobs waiting for placement, from one shard of the queue index. */
  workspacesWithPending(shard: number): Promise<string[]>;
  /** Jobs placed on a device and not ended, from one shard of the queue index. */
  active(shard: number, limit: number): Promise<Job[]>;
}

export interface JobEventRepository {
  append(jobId: string, event: Omit<JobEvent, "id">): Promise<JobEvent>;
  /** Events after `afterId` (all when undefined), oldest first. */
  list(jobId: string, afterId?: string): Promise<JobEvent[]>;
}

export type StoredProfile = ProfileView;

export interface ProfileRepository {
  /** Throws Conflict when the name is taken in the workspace. */
  create(workspaceId: string, profile: StoredProfile): Promise<void>;
  get(workspaceId: string, name: string): Promise<StoredProfile | undefined>;
  list(workspaceId: string, page: PageRequest): Promise<Page<StoredProfile>>;
  /** Throws NotFound. */
  update(
    workspaceId: string,
    name: string,
    patch: Partial<StoredProfile>,
    at: string,
  ): Promise<StoredProfile>;
  /** Throws NotFound. */
  delete(workspaceId: string, name: string): Promise<void>;
}

export interface QuotaState {
  limits: { maxGpus?: number; maxRunningJobs?: number };
  used: { gpus: number; runningJobs: number };
}

export type QuotaRefusal = {
  limit: "maxGpus" | "maxRunningJobs";
  value: number;
  used: number;
  asked: number;
};

export interface QuotaRepository {
  get(workspaceId: string): Promise<QuotaState>;
  /** Sets limits; `null` removes one. */
  setLimits(
    workspaceId: string,
    limits: { maxGpus?: number | null; maxRunningJobs?: number | null },
  ): Promise<QuotaState>;
  /** Takes one running job and `gpus` GPUs of the quota, atomically; the refusal says which limit. */
  reserve(workspaceId: string, gpus: number): Promise<{ ok: true } | ({ ok: false } & QuotaRefusal)>;
  /** Gives back what reserve took. */
  release(workspaceId: string, gpus: number): Promise<void>;
}

export interface CloudReservationRepository {
  /** Throws Conflict when the id is taken. */
  create(r: CloudReservation): Promise<void>;
  get(id: string): Promise<CloudReservation | undefined>;
  /**
   * Applies `changes` if the reservation is still at `current.version` (bumping it). Returns the new one,
   * or undefined when another writer changed it first (nothing written).
   */
  update(
    current: CloudReservation,
    changes: Partial<CloudReservation>,
    at: string,
  ): Promise<CloudReservation | undefined>;
  /**
   * Not-final reservations in `state` not updated since `before`, oldest first, from one shard of the cloud
   * index (the sweeper re-enqueues queued ones, the reconciler looks at the others).
   */
  quiet(shard: number, state: CloudState, before: string, limit: number): Promise<CloudReservation[]>;
}

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
}
