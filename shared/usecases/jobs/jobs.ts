import type { JobView, SubmitJobRequest } from "../../contracts/jobs.ts";
import { BerthError, conflict, ErrorCode, forbidden, invalidRequest } from "../../domain/errors.ts";
import { newId } from "../../domain/ids.ts";
import { isFinalJob, JOB_INTERNAL_FIELDS, type Job, JobStatus } from "../../domain/job.ts";
import type { UserPrincipal } from "../../domain/principal.ts";
import { quotaRefusal } from "../../domain/quota.ts";
import { mergeLimits } from "../../domain/resource-limits.ts";
import { Role } from "../../domain/roles.ts";
import type { Page, PageRequest } from "../../ports/pagination.ts";
import type { Write } from "../../ports/repositories.ts";
import { checkCloudTarget } from "../cloud/cloud-handoff.ts";
import type { JobDeps } from "../deps.ts";
import { done, mutate, reread } from "../mutate.ts";
import { checkJobSecrets } from "../secrets/job-secrets.ts";
import { announce, jobEventWrite, jobTopic } from "./job-events.ts";
import { updateJob } from "./job-update.ts";
import { placeJob } from "./placement.ts";
import { checkJobImage, checkJobLimits } from "./submit-checks.ts";

export type { JobDeps } from "../deps.ts";

/** The Launcher job object, without Berth's bookkeeping; with `fields`, only those (and `id`). */
export function jobView(job: Job, fields: string[] = []): JobView {
  const view: Record<string, unknown> = { ...job };
  for (const f of JOB_INTERNAL_FIELDS) delete view[f];
  if (fields.length === 0) return view as JobView;
  return Object.fromEntries(
    Object.entries(view).filter(([k]) => k === "id" || fields.includes(k)),
  ) as JobView;
}

export const jobNotFound = (id: string) => new BerthError(ErrorCode.JobNotFound, `job ${id} not found`);

/** Whether `user` submitted `job`: by key id, never by name (two keys may share a name). */
export const ownsJob = (user: UserPrincipal, job: Job): boolean => job.ownerKeyId === user.keyId;

/** A job the caller may see: of its workspace, and its own (submitted with this key) unless it holds an admin key. */
export async function visibleJob(deps: JobDeps, user: UserPrincipal, id: string): Promise<Job> {
  const job = await deps.repos.jobs.get(id);
  if (!job || job.workspaceId !== user.workspaceId || (user.role !== Role.admin && !ownsJob(user, job))) {
    throw jobNotFound(id);
  }
  return job;
}

/**
 * `POST /api/v1/jobs`. Applies the named profile, checks its resource limits and image (400, nothing
 * stored: submit-checks.ts), takes the workspace's quota (429 QuotaExceeded, nothing
 * created, when it would be exceeded), stores the job `Pending` and tries to place it at once.
 */
export async function submitJob(
  deps: JobDeps,
  user: UserPrincipal,
  input: SubmitJobRequest,
): Promise<JobView> {
  await checkJobSecrets(deps, user, input);
  const job = await buildJob(deps, user, input);
  checkJobLimits(job, input.resourceLimits.length > 0);
  await checkJobImage(deps, job);
  return jobView(await storeJob(deps, job, `accepted from ${user.name}`));
}

/** A new job from a request (its profile applied), not stored yet. */
export async function buildJob(deps: JobDeps, user: UserPrincipal, input: SubmitJobRequest): Promise<Job> {
  let profile: Awaited<ReturnType<JobDeps["repos"]["profiles"]["get"]>>;
  if (input.resourceProfile !== "custom") {
    profile = await deps.repos.profiles.get(user.workspaceId, input.resourceProfile);
    if (!profile) {
      const names = (await deps.repos.profiles.list(user.workspaceId, { limit: 500 })).items.map(
        (p) => p.name,
      );
      throw invalidRequest(
        `unknown resourceProfile "${input.resourceProfile}"; valid: ${["custom", ...names].join(", ")}`,
        [{ path: "resourceProfile", message: "no such profile" }],
      );
    }
  }
  const gpus = input.gpus ?? profile?.gpus ?? { count: 0 };
  const resourceLimits = mergeLimits(input.resourceLimits, profile?.limits);
  checkCloudTarget(deps, { ...input, resourceLimits, cloudLauncher: profile?.cloudLauncher });
  const now = deps.clock.now().toISOString();
  const job: Job = {
    id: newId(),
    workspaceId: user.workspaceId,
    name: input.name,
    user: user.name,
    ownerKeyId: user.keyId,
    group: input.group,
    queues: profile?.queue ? [profile.queue] : input.queues,
    workingDirectory: input.workingDirectory,
    container: input.container,
    status: JobStatus.Pending,
    statusMessage: "accepted",
    command: input.command,
    exe: input.exe,
    args: input.args,
    stdin: input.stdin,
    environment: input.environment,
    secrets: input.secrets,
    placementConstraints: [...input.placementConstraints, ...(profile?.placementConstraints ?? [])],
    submissionTime: now,
    lastUpdateTime: now,
    exposedPorts: input.exposedPorts,
    mounts: input.mounts,
    config: input.config,
    resourceLimits,
    gpus,
    tags: input.tags,
    metadata: input.metadata,
    resourceProfile: input.resourceProfile,
    target: input.target,
    maxDuration: input.maxDuration,
    disconnect: {
      lostAfterSeconds: input.disconnect?.lostAfterSeconds ?? deps.config.lostAfterSeconds,
      replace: input.disconnect?.replace ?? false,
    },
    cpus: input.cpus,
    memoryGiB: input.memoryGiB,
    cloudLauncher: profile?.cloudLauncher,
    version: 1,
    allocatedGpus: [],
    quotaHeld: true,
  };
  return job;
}

/**
 * Stores a new job with its share of the quota (429 QuotaExceeded, nothing written, when it would be
 * exceeded) and its first event, then tries to place it. The quota and the job in one transaction: concurrent
 * submits never exceed a limit, and a job is never stored without its share of the quota taken (nor the
 * other way round, even if the process dies).
 */
export async function storeJob(
  deps: JobDeps,
  job: Job,
  accepted: string,
  /** Writes of the same transaction (a lab's item); `refused` is called when one of them fails, and throws. */
  withIt?: { writes: Write[]; refused: (failed: number) => Promise<never> },
): Promise<Job> {
  await mutate({
    what: `the quota of workspace ${job.workspaceId}`,
    read: () => deps.repos.quotas.get(job.workspaceId),
    async attempt(quota) {
      const refusal = quotaRefusal(quota!, job.gpus.count);
      if (refusal) {
        const what = refusal.limit === "maxGpus" ? "GPUs" : "running jobs";
        throw new BerthError(
          ErrorCode.QuotaExceeded,
          `quota exceeded: ${refusal.limit} is ${refusal.value} and ${refusal.used} ${what} are in use; this job asks for ${refusal.asked}`,
          refusal,
        );
      }
      const committed = await deps.repos.commit([
        deps.repos.quotas.take(job.workspaceId, quota!, job.gpus.count),
        deps.repos.jobs.create(job),
        jobEventWrite(deps, job, "accepted", accepted).write,
        job.lab ? undefined : deps.repos.jobs.claimName(job),
        ...(withIt?.writes ?? []),
      ]);
      if (committed.ok) return done(undefined);
      if (withIt && committed.failed >= 4) return withIt.refused(committed.failed - 4);
      if (committed.failed === 0) return reread; // the quota changed meanwhile: decide again
      if (committed.failed === 3) {
        await freeStaleName(deps, job);
        return reread;
      }
      throw new Error(`${committed.what}: the id is taken`);
    },
  });
  announce(deps.feedWatcher, jobTopic(job.id));
  try {
    return await placeJob(deps, job);
  } catch (err) {
    // The job is stored with its quota: answering an error now would make the caller submit it again (and
    // take the quota twice). It stays Pending; the sweeper's placement pass tries again.
    deps.logger.error("placing a new job failed; it waits for the next placement pass", {
      jobId: job.id,
      error: (err as Error).message,
    });
    return job;
  }
}

/**
 * The name a new job asks for is claimed: by a job that has not ended (409 Conflict naming it), or by one that
 * has (a claim left behind, e.g. by a job that ended before names were claimed), which is then given up.
 */
async function freeStaleName(deps: JobDeps, job: Job): Promise<void> {
  const holderId = await deps.repos.jobs.nameHolder(job);
  if (!holderId) return; // given up meanwhile
  const holder = await deps.repos.jobs.get(holderId);
  if (holder && !isFinalJob(holder.status))
    throw conflict(
      `a job of this key named "${job.name}" has not ended (${holder.id}, ${holder.status}); names are unique among a key's jobs that have not ended: choose another name, or wait for it to end`,
      { jobId: holder.id, status: holder.status },
    );
  await deps.repos.commit([deps.repos.jobs.releaseName({ ...job, id: holderId })]);
}

/**
 * A copy of a job whose device was lost (its `disconnect.replace`), submitted as a new job by the same key:
 * same spec, its own id, `replacementOf` the lost one, which gets `replacedBy`. Undefined (logged) when it
 * cannot be stored, e.g. the quota is full.
 */
export async function replaceJob(deps: JobDeps, lost: Job): Promise<Job | undefined> {
  const now = deps.clock.now().toISOString();
  const copy: Job = {
    ...lost,
    id: newId(),
    status: JobStatus.Pending,
    statusMessage: "accepted",
    statusCode: undefined,
    host: undefined,
    pid: undefined,
    exitCode: undefined,
    submissionTime: now,
    lastUpdateTime: now,
    version: 1,
    deviceId: undefined,
    reservationId: undefined,
    cloudReservationId: undefined,
    allocatedGpus: [],
    controlRequested: undefined,
    quotaHeld: true,
    replacementOf: lost.id,
    replacedBy: undefined,
  };
  try {
    const stored = await storeJob(deps, copy, `replacement of job ${lost.id}, whose device was lost`);
    await updateJob(deps, lost.id, () => ({ replacedBy: stored.id }));
    return stored;
  } catch (err) {
    deps.logger.warn("could not replace a job whose device was lost", {
      jobId: lost.id,
      error: (err as Error).message,
    });
    return undefined;
  }
}

export interface JobFilter {
  startTime?: string;
  endTime?: string;
  statuses: string[];
  tags: string[];
  user?: string;
  fields: string[];
  order?: "asc" | "desc";
}

/**
 * `GET /api/v1/jobs` (jobs.md §4): inclusive time bounds, any of the statuses, every tag, one user or `*`.
 * A member key lists the jobs it submitted (`user=` its own name is accepted and means the same); an admin
 * key lists its own by default, or one user's by name, or everyone's with `*`.
 */
export async function listJobs(
  deps: JobDeps,
  user: UserPrincipal,
  filter: JobFilter,
  page: PageRequest,
): Promise<Page<JobView>> {
  const who = filter.user ?? user.name;
  if (who !== user.name && user.role !== Role.admin) {
    throw forbidden("listing other users' jobs (user=...) needs an admin key");
  }
  const result = await deps.repos.jobs.list(
    user.workspaceId,
    {
      start: filter.startTime && new Date(filter.startTime).toISOString(),
      end: filter.endTime && new Date(filter.endTime).toISOString(),
      order: filter.order,
    },
    page,
    (j) =>
      (user.role !== Role.admin || filter.user === undefined
        ? ownsJob(user, j)
        : who === "*" || j.user === who) &&
      (filter.statuses.length === 0 || filter.statuses.includes(j.status)) &&
      filter.tags.every((t) => j.tags.includes(t)),
  );
  return { items: result.items.map((j) => jobView(j, filter.fields)), cursor: result.cursor };
}

export async function getJob(deps: JobDeps, user: UserPrincipal, id: string): Promise<JobView> {
  return jobView(await visibleJob(deps, user, id));
}
