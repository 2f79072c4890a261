import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { Device } from "../../domain/device.ts";
import { conflict, notFound } from "../../domain/errors.ts";
import type { DeviceRepository } from "../../ports/repositories.ts";
import type { Db } from "./client.ts";
import { isConditionFailure, keys, parseItem, updateExisting, updateParts } from "./items.ts";
import { queryPage } from "./paginate.ts";

const parse = (item: Record<string, unknown>) => parseItem(Device, "device", item);

export function dynamoDeviceRepository(db: Db): DeviceRepository {
  const missing = (id: string) => notFound(`device ${id} not found`);
  const list: DeviceRepository["list"] = (workspaceId, page, keep) => {
    return queryPage(
      db,
      {
        IndexName: "gsi1",
        KeyConditionExpression: "gsi1pk = :pk",
        ExpressionAttributeValues: { ":pk": keys.devicesOf(workspaceId) },
      },
      (item) => {
        const device = parse(item);
        return !keep || keep(device) ? device : undefined;
      },
      page,
    );
  };

  return {
    async get(id) {
      const out = await db.doc.send(
        new GetCommand({ TableName: db.table, Key: keys.device(id), ConsistentRead: true }),
      );
      return out.Item ? parse(out.Item) : undefined;
    },
    async create(device) {
      try {
        // Id collision: never overwrite a device.
        await db.doc.send(
          new PutCommand({
            TableName: db.table,
            Item: {
              ...keys.device(device.id),
              gsi1pk: keys.devicesOf(device.workspaceId),
              gsi1sk: device.id,
              ...device,
            },
            ConditionExpression: "attribute_not_exists(pk)",
          }),
        );
      } catch (err) {
        if (isConditionFailure(err)) throw conflict(`device ${device.id} already exists`);
        throw err;
      }
    },
    list,
    async update(workspaceId, id, patch, at) {
      const { expression, names, values } = updateParts({ ...patch, updatedAt: at });
      try {
        // Delete racing a rename, or another workspace's id: only an existing device of this workspace changes.
        const out = await db.doc.send(
          new UpdateCommand({
            TableName: db.table,
            Key: keys.device(id),
            UpdateExpression: expression,
            ConditionExpression: "attribute_exists(pk) AND workspaceId = :ws",
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: { ...values, ":ws": workspaceId },
            ReturnValues: "ALL_NEW",
          }),
        );
        return parse(out.Attributes!);
      } catch (err) {
        if (isConditionFailure(err)) throw missing(id);
        throw err;
      }
    },
    async refresh(id, fields, at) {
      // A relogin or heartbeat racing a delete must not recreate the device.
      const item = await updateExisting(db, keys.device(id), { ...fields, updatedAt: at });
      if (!item) throw missing(id);
      return parse(item);
    },
    async touch(id, at, resolutionMs) {
      const threshold = new Date(Date.parse(at) - resolutionMs).toISOString();
      try {
        // Many polls from one agent at once: at most one write per resolution window, none for a deleted device.
        await db.doc.send(
          new UpdateCommand({
            TableName: db.table,
            Key: keys.device(id),
            UpdateExpression: "SET lastSeenAt = :at",
            ConditionExpression: "attribute_exists(pk) AND lastSeenAt < :threshold",
            ExpressionAttributeValues: { ":at": at, ":threshold": threshold },
          }),
        );
      } catch (err) {
        if (!isConditionFailure(err)) throw err;
      }
    },
    async listAll(workspaceId) {
      const all = [];
      let cursor: Record<string, unknown> | undefined;
      do {
        const page = await list(workspaceId, { limit: 500, cursor });
        all.push(...page.items);
        cursor = page.cursor;
      } while (cursor);
      return all;
    },
    async claimGpus(deviceId, indices, jobId) {
      if (indices.length === 0) return true;
      const names = Object.fromEntries(indices.map((i) => [`#g${i}`, String(i)]));
      try {
        // Two jobs racing for the same GPU: each index may be set only while absent, all in one write.
        await db.doc.send(
          new UpdateCommand({
            TableName: db.table,
            Key: keys.device(deviceId),
            UpdateExpression: `SET ${indices.map((i) => `gpuOwners.#g${i} = :job`).join(", ")}`,
            ConditionExpression: [
              "attribute_exists(pk)",
              ...indices.map((i) => `attribute_not_exists(gpuOwners.#g${i})`),
            ].join(" AND "),
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: { ":job": jobId },
          }),
        );
        return true;
      } catch (err) {
        if (isConditionFailure(err)) return false;
        throw err;
      }
    },
    async releaseGpus(deviceId, indices, jobId) {
      for (const i of indices) {
        try {
          // Only what this job holds: an index already given to another job stays with it.
          await db.doc.send(
            new UpdateCommand({
              TableName: db.table,
              Key: keys.device(deviceId),
              UpdateExpression: "REMOVE gpuOwners.#g",
              ConditionExpression: "gpuOwners.#g = :job",
              ExpressionAttributeNames: { "#g": String(i) },
              ExpressionAttributeValues: { ":job": jobId },
            }),
          );
        } catch (err) {
          if (!isConditionFailure(err)) throw err;
        }
      }
    },
    async delete(workspaceId, id) {
      try {
        // Two deletes at once: one gets the old item (and releases its counters), the other NotFound.
        const out = await db.doc.send(
          new DeleteCommand({
            TableName: db.table,
            Key: keys.device(id),
            ConditionExpression: "attribute_exists(pk) AND workspaceId = :ws",
            ExpressionAttributeValues: { ":ws": workspaceId },
            ReturnValues: "ALL_OLD",
          }),
        );
        return parse(out.Attributes!);
      } catch (err) {
        if (isConditionFailure(err)) throw missing(id);
        throw err;
      }
    },
  };
}
