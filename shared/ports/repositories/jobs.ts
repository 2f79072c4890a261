import type { Job, JobChange, JobEvent } from "../../domain/job.ts";
import type { Page, PageRequest } from "../pagination.ts";
import type { Saved, VersionedWrite, Write } from "./write.ts";

export interface JobTimeRange {
  start?: string;
  end?: string;
  /** "asc" (oldest first, the default) or "desc" (newest first). */
  order?: "asc" | "desc";
}

/** What names a job's claim on its name: its workspace, its owner (key, else user) and the name. */
export type NamedJob = Pick<Job, "id" | "workspaceId" | "ownerKeyId" | "user" | "name">;

export interface JobRepository {
  /** Stores a new job; fails on a taken id. */
  create(job: Job): Write;
  get(id: string): Promise<Job | undefined>;
  /**
   * A named job's claim on its name (names are unique among the jobs of the key that submitted them that have
   * not ended): fails when another job holds it. Undefined for a job without a name.
   */
  claimName(job: NamedJob): Write | undefined;
  /** The id of the job holding the claim on `job`'s name (its key's), if any. */
  nameHolder(job: Omit<NamedJob, "id">): Promise<string | undefined>;
  /** Gives up `job`'s claim on its name (only if it holds it: fails otherwise). Undefined without a name. */
  releaseName(job: NamedJob): Write | undefined;
  /** A workspace's jobs by submission time (inclusive bounds), oldest first (or newest first: `range.order`). */
  list(
    workspaceId: string,
    range: JobTimeRange,
    page: PageRequest,
    keep?: (j: Job) => boolean,
  ): Promise<Page<Job>>;
  /** A change of `current` (a status transition, or other fields) if it is still at `current.version`. */
  update(current: Job, change: JobChange, at: string): VersionedWrite<Job>;
  /** `update`, committed alone: the job after it, or as it is now. */
  save(current: Job, change: JobChange, at: string): Promise<Saved<Job>>;
  /** A workspace's jobs waiting for placement, oldest first (an index: it may lag). */
  pending(workspaceId: string, limit: number): Promise<Job[]>;
  /** Workspaces that have jobs waiting for placement. */
  workspacesWithPending(): Promise<string[]>;
  /** Jobs placed on a device and not ended, at most `limit`. */
  active(limit: number): Promise<Job[]>;
}

export interface JobEventRepository {
  /** An event to store (its id is time-sortable), as a Write for the transaction that causes it. */
  append(jobId: string, event: Omit<JobEvent, "id">): { write: Write; event: JobEvent };
  /** Events after `afterId` (all when undefined), oldest first. */
  list(jobId: string, afterId?: string): Promise<JobEvent[]>;
}
