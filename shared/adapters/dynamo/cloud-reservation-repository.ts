import { GetCommand, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { CloudReservation, isFinalCloud } from "../../domain/cloud-reservation.ts";
import { conflict } from "../../domain/errors.ts";
import type { CloudReservationRepository } from "../../ports/repositories.ts";
import type { Db } from "./client.ts";
import { isConditionFailure, keys, parseItem, shardOf, updateExisting } from "./items.ts";

/** The cloud index (gsi2) spreads reservations over this many partitions. */
export const CLOUD_SHARDS = 4;

const parse = (item: Record<string, unknown>) => parseItem(CloudReservation, "cloud reservation", item);

/**
 * A reservation's place in the cloud index while it is not final: by state, then by when it last
 * changed, so one query finds the ones that have been quiet in a state for too long.
 */
function indexKeys(r: CloudReservation): { gsi2pk: string | null; gsi2sk: string | null } {
  if (isFinalCloud(r.state)) return { gsi2pk: null, gsi2sk: null };
  return {
    gsi2pk: keys.cloudQueue(shardOf(r.id, CLOUD_SHARDS)),
    gsi2sk: `${r.state}#${r.updatedAt}#${r.id}`,
  };
}

export function dynamoCloudReservationRepository(db: Db): CloudReservationRepository {
  return {
    async create(r) {
      const index = indexKeys(r);
      try {
        // Id collision: never overwrite a reservation.
        await db.doc.send(
          new PutCommand({
            TableName: db.table,
            Item: { ...keys.cloudReservation(r.id), ...(index.gsi2pk ? index : {}), ...r },
            ConditionExpression: "attribute_not_exists(pk)",
          }),
        );
      } catch (err) {
        if (isConditionFailure(err)) throw conflict(`cloud reservation ${r.id} already exists`);
        throw err;
      }
    },
    async get(id) {
      const out = await db.doc.send(
        new GetCommand({ TableName: db.table, Key: keys.cloudReservation(id), ConsistentRead: true }),
      );
      return out.Item ? parse(out.Item) : undefined;
    },
    async update(current, changes, at) {
      const next = { ...current, ...changes, updatedAt: at };
      // Every writer (provision worker, events worker, reconciler, control): one per version.
      const item = await updateExisting(
        db,
        keys.cloudReservation(current.id),
        {
          ...changes,
          ...indexKeys(next),
          version: current.version + 1,
          updatedAt: at,
        },
        { expression: "#version = :v", values: { ":v": current.version } },
      );
      return item ? parse(item) : undefined;
    },
    async quiet(shard, state, before, limit) {
      const out = await db.doc.send(
        new QueryCommand({
          TableName: db.table,
          IndexName: "gsi2",
          KeyConditionExpression: "gsi2pk = :pk AND gsi2sk BETWEEN :from AND :to",
          ExpressionAttributeValues: {
            ":pk": keys.cloudQueue(shard),
            ":from": `${state}#`,
            ":to": `${state}#${before}`,
          },
          Limit: limit,
        }),
      );
      return (out.Items ?? []).map(parse);
    },
  };
}
