import { newId } from "../../domain/ids.ts";
import { isFinalJob, Job, JobEvent, type JobStatus } from "../../domain/job.ts";
import type { NamedJob } from "../../ports/repositories/jobs.ts";
import type { JobEventRepository, JobRepository } from "../../ports/repositories.ts";
import { c, type Store } from "../../ports/store.ts";
import {
  createWrite,
  itemOf,
  parseEach,
  parseItem,
  queryAll,
  queryPage,
  saveVersioned,
  versionedWrite,
  write,
} from "./base.ts";
import { ALL_SHARDS, keys, shardOf, ttlOf } from "./keys.ts";

const parse = (item: Record<string, unknown>) => parseItem(Job, "job", item);

/**
 * A job's place in the queue index: `pending` while it waits for placement on the fleet, `active` once placed
 * on a device and until it ends, `cloud` while cloud capacity carries it (its cloud reservation is followed
 * on its own), nothing when final. The sort key starts with the phase and the workspace, so one query finds
 * a workspace's waiting jobs oldest first, another every active job of a shard.
 */
function queueIndex(job: Job): { gsi2pk: string | null; gsi2sk: string | null } {
  if (isFinalJob(job.status)) return { gsi2pk: null, gsi2sk: null };
  const phase = job.cloudReservationId ? "cloud" : job.deviceId ? "active" : "pending";
  return {
    gsi2pk: keys.jobQueue(shardOf(job.workspaceId)),
    gsi2sk: `${phase}#${job.workspaceId}#${job.submissionTime}#${job.id}`,
  };
}

/** A job's claim on its name, per key (jobs stored without their key's id: per user name). */
const nameKey = (job: Omit<NamedJob, "id">) =>
  keys.jobName(job.workspaceId, job.ownerKeyId ?? `user:${job.user}`, job.name);

export function jobRepository(store: Store): JobRepository {
  const queue = async (shard: number, prefix: string, limit?: number) => {
    const input = { index: "gsi2" as const, partition: keys.jobQueue(shard), range: { prefix } };
    const items = limit ? (await store.query({ ...input, limit })).items : await queryAll(store, input);
    return parseEach(store, items, parse);
  };
  const update = (current: Job, change: Parameters<JobRepository["update"]>[1], at: string) =>
    versionedWrite<Job, JobStatus>({
      what: `job ${current.id}`,
      key: keys.job(current.id),
      current,
      change,
      stateField: "status",
      timeField: "lastUpdateTime",
      at,
      indexes: queueIndex,
    });
  return {
    create(job) {
      const q = queueIndex(job);
      // Id collision: never overwrite a job.
      return createWrite(
        `job ${job.id}`,
        itemOf(keys.job(job.id), job, {
          gsi1pk: keys.jobsOf(job.workspaceId),
          gsi1sk: `${job.submissionTime}#${job.id}`,
          ...(q.gsi2pk ? q : {}),
        }),
      );
    },
    async get(id) {
      const item = await store.get(keys.job(id));
      return item ? parse(item) : undefined;
    },
    claimName: (job) =>
      job.name ? createWrite(`the name ${job.name}`, { ...nameKey(job), jobId: job.id }) : undefined,
    async nameHolder(job) {
      const item = await store.get(nameKey(job));
      return typeof item?.jobId === "string" ? item.jobId : undefined;
    },
    releaseName: (job) =>
      job.name
        ? write(`release the name ${job.name}`, { delete: nameKey(job), if: c.eq("jobId", job.id) })
        : undefined,
    list(workspaceId, range, page, keep) {
      return queryPage(
        store,
        {
          index: "gsi1",
          partition: keys.jobsOf(workspaceId),
          // Inclusive on both ends: "#" sorts before any id character, "~" after.
          range: { between: [`${range.start ?? ""}#`, `${range.end ?? "9999"}#~`] },
          order: range.order ?? "asc",
        },
        (item) => {
          const job = parse(item);
          return !keep || keep(job) ? job : undefined;
        },
        page,
      );
    },
    update: (current, change, at) => update(current, change, at).write,
    save: (current, change, at) => saveVersioned(store, update(current, change, at), parse),
    pending: (workspaceId, limit) => queue(shardOf(workspaceId), `pending#${workspaceId}#`, limit),
    async workspacesWithPending() {
      const found = new Set<string>();
      for (const shard of ALL_SHARDS)
        for (const j of await queue(shard, "pending#")) found.add(j.workspaceId);
      return [...found];
    },
    async active(limit) {
      const jobs: Job[] = [];
      for (const shard of ALL_SHARDS) {
        if (jobs.length >= limit) break;
        jobs.push(...(await queue(shard, "active#", limit - jobs.length)));
      }
      return jobs;
    },
  };
}

/** A job's lifecycle events, in its own partition, ordered by their (time-sortable) ids. */
export function jobEventRepository(store: Store): JobEventRepository {
  return {
    append(jobId, event) {
      const stored: JobEvent = { id: newId(Date.parse(event.at)), ...event };
      return {
        event: stored,
        write: write(`record event ${stored.type} of job ${jobId}`, {
          put: itemOf(keys.jobEvent(jobId, stored.id), stored, { ttl: ttlOf(event.at, 90) }),
        }),
      };
    },
    async list(jobId, afterId) {
      const items = await queryAll(store, {
        partition: keys.job(jobId).pk,
        // Only events (the job's own item shares the partition): ids are fixed-length, so "EVT#<id>~" sorts
        // after that id and before every later one; "EVT#~" after them all.
        range: { between: [afterId ? `${keys.jobEvent(jobId, afterId).sk}~` : "EVT#", "EVT#~"] },
      });
      return parseEach(store, items, (item) => parseItem(JobEvent, "job event", item));
    },
  };
}
