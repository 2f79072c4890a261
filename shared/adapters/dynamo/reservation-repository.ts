import { BatchGetCommand, GetCommand, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { conflict } from "../../domain/errors.ts";
import { isLive, Reservation } from "../../domain/reservation.ts";
import type { ReservationRepository } from "../../ports/repositories.ts";
import type { Db } from "./client.ts";
import { isConditionFailure, keys, parseItem, shardOf, ttlOf, updateExisting } from "./items.ts";
import { queryPage } from "./paginate.ts";

/** The expiry index is spread over this many partitions; the sweeper reads each. */
export const EXPIRY_SHARDS = 4;

const parse = (item: Record<string, unknown>) => parseItem(Reservation, "reservation", item);
const expiryKeys = (r: Reservation) => ({
  gsi2pk: keys.expiryShard(shardOf(r.id, EXPIRY_SHARDS)),
  gsi2sk: `${r.expiresAt}#${r.nodeId}#${r.id}`,
});

export function dynamoReservationRepository(db: Db): ReservationRepository {
  const get = async (deviceId: string, id: string) => {
    const out = await db.doc.send(
      new GetCommand({ TableName: db.table, Key: keys.reservation(deviceId, id), ConsistentRead: true }),
    );
    return out.Item ? parse(out.Item) : undefined;
  };
  return {
    get,
    async create(r) {
      try {
        // Id collision: never overwrite a reservation. The pointer is immutable, written alongside.
        await Promise.all([
          db.doc.send(
            new PutCommand({
              TableName: db.table,
              Item: {
                ...keys.reservation(r.nodeId, r.id),
                gsi1pk: keys.reservationsOf(r.workspaceId),
                gsi1sk: r.id,
                ...(isLive(r.state) ? expiryKeys(r) : {}),
                ...r,
              },
              ConditionExpression: "attribute_not_exists(pk)",
            }),
          ),
          db.doc.send(
            new PutCommand({
              TableName: db.table,
              Item: {
                ...keys.reservationPointer(r.id),
                deviceId: r.nodeId,
                workspaceId: r.workspaceId,
                ttl: ttlOf(r.expiresAt, 30),
              },
              ConditionExpression: "attribute_not_exists(pk)",
            }),
          ),
        ]);
      } catch (err) {
        if (isConditionFailure(err)) throw conflict(`reservation ${r.id} already exists`);
        throw err;
      }
    },
    async getById(id) {
      const out = await db.doc.send(
        new GetCommand({ TableName: db.table, Key: keys.reservationPointer(id), ConsistentRead: true }),
      );
      const deviceId = out.Item?.deviceId;
      return typeof deviceId === "string" ? get(deviceId, id) : undefined;
    },
    async getMany(deviceId, ids) {
      const found: Reservation[] = [];
      for (let i = 0; i < ids.length; i += 100) {
        let request:
          | Record<string, { Keys: Record<string, unknown>[]; ConsistentRead: boolean }>
          | undefined = {
          [db.table]: {
            Keys: ids.slice(i, i + 100).map((id) => keys.reservation(deviceId, id)),
            ConsistentRead: true,
          },
        };
        while (request && Object.keys(request).length > 0) {
          const out = await db.doc.send(new BatchGetCommand({ RequestItems: request }));
          for (const item of out.Responses?.[db.table] ?? []) found.push(parse(item));
          request = out.UnprocessedKeys as typeof request;
        }
      }
      return found.sort((a, b) => a.seq - b.seq);
    },
    async listForDevice(deviceId) {
      const all: Reservation[] = [];
      let start: Record<string, unknown> | undefined;
      do {
        const out = await db.doc.send(
          new QueryCommand({
            TableName: db.table,
            KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
            FilterExpression: "#state <> :deleted",
            ExpressionAttributeNames: { "#state": "state" },
            ExpressionAttributeValues: {
              ":pk": keys.reservation(deviceId, "").pk,
              ":prefix": keys.reservationsPrefix,
              ":deleted": "deleted",
            },
            ConsistentRead: true,
            ExclusiveStartKey: start,
          }),
        );
        for (const item of out.Items ?? []) all.push(parse(item));
        start = out.LastEvaluatedKey;
      } while (start);
      return all.sort((a, b) => a.seq - b.seq);
    },
    list(workspaceId, page, keep) {
      return queryPage(
        db,
        {
          IndexName: "gsi1",
          KeyConditionExpression: "gsi1pk = :pk",
          ExpressionAttributeValues: { ":pk": keys.reservationsOf(workspaceId) },
        },
        (item) => {
          const r = parse(item);
          return !keep || keep(r) ? r : undefined;
        },
        page,
      );
    },
    async transition(current, to, change, at) {
      const leavesLive = isLive(current.state) && !isLive(to);
      // Any two writers (result, delete, sweeper, acknowledgement): only one moves a given version.
      const item = await updateExisting(
        db,
        keys.reservation(current.nodeId, current.id),
        {
          ...change,
          state: to,
          version: current.version + 1,
          updatedAt: at,
          // Out of the expiry index once it is no longer live; garbage-collected a month after deletion.
          ...(leavesLive ? { gsi2pk: null, gsi2sk: null } : {}),
          ...(to === "deleted" ? { ttl: ttlOf(at, 30) } : {}),
        },
        {
          expression: "#state = :from AND #version = :v",
          values: { ":from": current.state, ":v": current.version },
        },
      );
      return item ? parse(item) : undefined;
    },
    async recordResult(current, result, at) {
      const moves = current.state === "pending" || current.state === "delivered";
      // Two results at once (a retry racing the original): the first stored wins, the other re-reads.
      const item = await updateExisting(
        db,
        keys.reservation(current.nodeId, current.id),
        {
          result,
          version: current.version + 1,
          updatedAt: at,
          ...(moves ? { state: result.state } : {}),
        },
        { expression: "attribute_not_exists(#result) AND #version = :v", values: { ":v": current.version } },
      );
      return item ? parse(item) : undefined;
    },
    async expiring(shard, now, limit) {
      const out = await db.doc.send(
        new QueryCommand({
          TableName: db.table,
          IndexName: "gsi2",
          KeyConditionExpression: "gsi2pk = :pk AND gsi2sk <= :now",
          ExpressionAttributeValues: { ":pk": keys.expiryShard(shard), ":now": `${now}~` },
          Limit: limit,
        }),
      );
      return (out.Items ?? []).map(parse);
    },
  };
}
