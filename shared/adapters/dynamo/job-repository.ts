import { GetCommand, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { conflict } from "../../domain/errors.ts";
import { isFinalJob, Job } from "../../domain/job.ts";
import type { JobRepository } from "../../ports/repositories.ts";
import type { Db } from "./client.ts";
import { isConditionFailure, keys, parseItem, shardOf, updateExisting } from "./items.ts";
import { queryPage } from "./paginate.ts";

/** The queue index (gsi2) spreads workspaces over this many partitions. */
export const JOB_QUEUE_SHARDS = 4;

const parse = (item: Record<string, unknown>) => parseItem(Job, "job", item);

/**
 * A job's place in the queue index: `pending` while it waits for placement on the fleet, `active` once placed
 * on a device and until it ends, `cloud` while cloud capacity carries it (its cloud reservation is followed
 * on its own), nothing when final. The sort key starts with the phase and the workspace, so one query finds
 * a workspace's waiting jobs oldest first, another every active job of a shard.
 */
function queueKeys(job: Job): { gsi2pk: string | null; gsi2sk: string | null } {
  if (isFinalJob(job.status)) return { gsi2pk: null, gsi2sk: null };
  const phase = job.cloudReservationId ? "cloud" : job.deviceId ? "active" : "pending";
  return {
    gsi2pk: keys.jobQueue(shardOf(job.workspaceId, JOB_QUEUE_SHARDS)),
    gsi2sk: `${phase}#${job.workspaceId}#${job.submissionTime}#${job.id}`,
  };
}

export function dynamoJobRepository(db: Db): JobRepository {
  const queryQueue = async (shard: number, prefix: string, limit?: number) => {
    const out = await db.doc.send(
      new QueryCommand({
        TableName: db.table,
        IndexName: "gsi2",
        KeyConditionExpression: "gsi2pk = :pk AND begins_with(gsi2sk, :prefix)",
        ExpressionAttributeValues: { ":pk": keys.jobQueue(shard), ":prefix": prefix },
        ...(limit ? { Limit: limit } : {}),
      }),
    );
    return (out.Items ?? []).map(parse);
  };
  return {
    async create(job) {
      const queue = queueKeys(job);
      try {
        // Id collision: never overwrite a job.
        await db.doc.send(
          new PutCommand({
            TableName: db.table,
            Item: {
              ...keys.job(job.id),
              gsi1pk: keys.jobsOf(job.workspaceId),
              gsi1sk: `${job.submissionTime}#${job.id}`,
              ...(queue.gsi2pk ? queue : {}),
              ...job,
            },
            ConditionExpression: "attribute_not_exists(pk)",
          }),
        );
      } catch (err) {
        if (isConditionFailure(err)) throw conflict(`job ${job.id} already exists`);
        throw err;
      }
    },
    async get(id) {
      const out = await db.doc.send(
        new GetCommand({ TableName: db.table, Key: keys.job(id), ConsistentRead: true }),
      );
      return out.Item ? parse(out.Item) : undefined;
    },
    list(workspaceId, range, page, keep) {
      return queryPage(
        db,
        {
          IndexName: "gsi1",
          KeyConditionExpression: "gsi1pk = :pk AND gsi1sk BETWEEN :from AND :to",
          ExpressionAttributeValues: {
            ":pk": keys.jobsOf(workspaceId),
            // Inclusive on both ends: "#" sorts before any id character, "~" after.
            ":from": `${range.start ?? ""}#`,
            ":to": `${range.end ?? "9999"}#~`,
          },
        },
        (item) => {
          const job = parse(item);
          return !keep || keep(job) ? job : undefined;
        },
        page,
      );
    },
    async update(current, changes, at) {
      const next = { ...current, ...changes };
      // Any two writers of one job (placement, the agent's reports, control, the sweeper): one per version.
      const item = await updateExisting(
        db,
        keys.job(current.id),
        {
          ...changes,
          ...queueKeys(next),
          version: current.version + 1,
          lastUpdateTime: at,
        },
        { expression: "#version = :v", values: { ":v": current.version } },
      );
      return item ? parse(item) : undefined;
    },
    pending: (workspaceId, limit) =>
      queryQueue(shardOf(workspaceId, JOB_QUEUE_SHARDS), `pending#${workspaceId}#`, limit),
    async workspacesWithPending(shard) {
      return [...new Set((await queryQueue(shard, "pending#")).map((j) => j.workspaceId))];
    },
    active: (shard, limit) => queryQueue(shard, "active#", limit),
  };
}
