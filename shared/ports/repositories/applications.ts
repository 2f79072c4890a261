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
