import { GetCommand, PutCommand, QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { z } from "zod";
import { AgentReservation } from "../../contracts/reservations.ts";
import type { FeedEntry, FeedRepository } from "../../ports/repositories.ts";
import type { Db } from "./client.ts";
import { keys, pad, parseItem, shardOf, ttlOf } from "./items.ts";

/**
 * Feed writes are also indexed by time on this many partitions, so one process can learn of every
 * write with a few queries a second however many polls it holds (see docs/long-polling.md).
 */
export const FEED_CHANGE_SHARDS = 4;

const Entry = z.object({
  deviceId: z.string(),
  seq: z.number().int(),
  kind: z.enum(["apply", "remove", "control"]),
  reservation: AgentReservation,
  createdAt: z.string(),
  expiresAt: z.string(),
});
const Head = z.object({ seq: z.number().int().default(0), removals: z.set(z.string()).optional() });

const parse = (item: Record<string, unknown>): FeedEntry => parseItem(Entry, "feed entry", item);

export function dynamoFeedRepository(db: Db): FeedRepository {
  const query = async (deviceId: string, opts: { from?: number; limit: number; newestFirst?: boolean }) => {
    const out = await db.doc.send(
      new QueryCommand({
        TableName: db.table,
        KeyConditionExpression: opts.from === undefined ? "pk = :pk" : "pk = :pk AND sk >= :from",
        ExpressionAttributeValues: {
          ":pk": keys.feedOf(deviceId),
          ...(opts.from === undefined ? {} : { ":from": pad(opts.from) }),
        },
        ScanIndexForward: !opts.newestFirst,
        Limit: opts.limit,
        ConsistentRead: true,
      }),
    );
    return (out.Items ?? []).map(parse);
  };
  return {
    async head(deviceId) {
      const out = await db.doc.send(
        new GetCommand({ TableName: db.table, Key: keys.feedHead(deviceId), ConsistentRead: true }),
      );
      const head = Head.parse(out.Item ?? {});
      return { seq: head.seq, removals: [...(head.removals ?? [])] };
    },
    async allocate(deviceId, removal) {
      // Concurrent writers to one feed each get their own number: ADD is atomic.
      const out = await db.doc.send(
        new UpdateCommand({
          TableName: db.table,
          Key: keys.feedHead(deviceId),
          UpdateExpression: removal ? "ADD seq :one, removals :removal" : "ADD seq :one",
          ExpressionAttributeValues: { ":one": 1, ...(removal ? { ":removal": new Set([removal]) } : {}) },
          ReturnValues: "UPDATED_NEW",
        }),
      );
      return Number(out.Attributes?.seq);
    },
    async acknowledge(deviceId, reservationId) {
      await db.doc.send(
        new UpdateCommand({
          TableName: db.table,
          Key: keys.feedHead(deviceId),
          UpdateExpression: "DELETE removals :id",
          ExpressionAttributeValues: { ":id": new Set([reservationId]) },
        }),
      );
    },
    async append(entry) {
      await db.doc.send(
        new PutCommand({
          TableName: db.table,
          Item: {
            ...keys.feedEntry(entry.deviceId, entry.seq),
            gsi1pk: keys.feedChangeShard(shardOf(entry.deviceId, FEED_CHANGE_SHARDS)),
            gsi1sk: `${entry.createdAt}#${entry.deviceId}#${pad(entry.seq)}`,
            ttl: ttlOf(entry.expiresAt, 1),
            ...entry,
          },
        }),
      );
    },
    from: (deviceId, from, limit) => query(deviceId, { from, limit }),
    async latest(deviceId, limit) {
      return (await query(deviceId, { limit, newestFirst: true })).reverse();
    },
    async changesSince(shard, since) {
      const changes: { deviceId: string; seq: number; createdAt: string }[] = [];
      let start: Record<string, unknown> | undefined;
      do {
        const out = await db.doc.send(
          new QueryCommand({
            TableName: db.table,
            IndexName: "gsi1",
            KeyConditionExpression: "gsi1pk = :pk AND gsi1sk >= :since",
            ExpressionAttributeValues: { ":pk": keys.feedChangeShard(shard), ":since": since },
            ProjectionExpression: "deviceId, seq, createdAt",
            ExclusiveStartKey: start,
          }),
        );
        for (const item of out.Items ?? []) {
          changes.push({
            deviceId: String(item.deviceId),
            seq: Number(item.seq),
            createdAt: String(item.createdAt),
          });
        }
        start = out.LastEvaluatedKey;
      } while (start);
      return changes;
    },
  };
}
