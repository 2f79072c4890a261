import type { Application, Deployment, DeploymentCounts } from "../../domain/application.ts";
import type { Page, PageRequest } from "../pagination.ts";
import type { Write } from "./write.ts";

export interface ApplicationRepository {
  get(id: string): Promise<Application | undefined>;
  /** By its name in its namespace (the name pointer, then the item). */
  byName(workspaceId: string, namespace: string, name: string): Promise<Application | undefined>;
  /** Stores a new application and claims its name in its namespace (fails when the name is taken). */
  create(app: Application): Write;
  /** Replaces `current` with `next` (revision + 1) if it is still at `current.revision`. */
  replace(current: Application, next: Application): Write;
  /** Deletes the application and frees its name (fails unless it is still at `current.revision`). */
  delete(current: Application): Write;
  /** A namespace's applications by name. */
  list(workspaceId: string, namespace: string, page: PageRequest): Promise<Page<Application>>;
  /** A workspace's applications, in every namespace (an index: it may lag). */
  ofWorkspace(workspaceId: string): Promise<Application[]>;
  /** Every application of every workspace (the reconciler's full pass). */
  all(): Promise<Application[]>;
  /**
   * Puts the application in the reconciler's queue (the sparse `APPQ#<shard>` index, applications.md §5),
   * or marks it again if it is there: each mark counts up `n`.
   */
  markDirty(id: string, at: string): Promise<void>;
  /** The queue: applications marked, with their mark, at most `limit`. */
  dirty(limit: number): Promise<{ id: string; n: number; at: string }[]>;
  /** Takes the application out of the queue if its mark is still `n`: one marked since stays. */
  clean(id: string, n: number): Promise<void>;
  /** The application's mark (undefined: not in the queue). */
  mark(id: string): Promise<{ n: number; at: string } | undefined>;
  /**
   * A lease for one pass of the application, over every process: its end (`now + ms`) when no other is held
   * (none taken, released, or run out), else undefined.
   */
  claimPass(id: string, now: Date, ms: number): Promise<string | undefined>;
  /** Gives the lease back, if it is still the one taken (`until`). */
  releasePass(id: string, until: string): Promise<void>;
  /** The sweeper's full pass over every application: true when none was taken in the last `ms`. */
  claimFullPass(now: Date, ms: number): Promise<boolean>;
}

export interface DeploymentRepository {
  get(applicationId: string, deviceId: string): Promise<Deployment | undefined>;
  /** An application's deployments, by device id. */
  ofApplication(applicationId: string): Promise<Deployment[]>;
  /** The deployments on a device (an index: it may lag). */
  onDevice(deviceId: string): Promise<Deployment[]>;
  /** A new deployment (fails when the device already has one of this application). */
  create(d: Deployment): Write;
  /** `next` (v + 1) in place of `current`, if it is still at `current.v`. */
  replace(current: Deployment, next: Deployment): Write;
  /** Deletes it, if it is still at `current.v`. */
  delete(current: Deployment): Write;
  /** The application's deployment counts (zeros before any). */
  counts(applicationId: string): Promise<DeploymentCounts>;
  /** Several applications' counts, by id. */
  countsOf(applicationIds: string[]): Promise<Map<string, DeploymentCounts>>;
  /** Moves the counts by `delta` (in the transaction of the deployment's change: counted once). */
  count(applicationId: string, delta: DeploymentCounts): Write;
  /** Sets them to a recount (a full pass repairs a lost change), if they are still as `read`. */
  recount(applicationId: string, counts: DeploymentCounts, read?: DeploymentCounts): Write;
  /** Removes them (the application is deleted). */
  dropCounts(applicationId: string): Write;
}
