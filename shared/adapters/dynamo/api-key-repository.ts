import { GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { ApiKey } from "../../domain/api-key.ts";
import { conflict, notFound } from "../../domain/errors.ts";
import type { ApiKeyRepository } from "../../ports/repositories.ts";
import type { Db } from "./client.ts";
import { isConditionFailure, keys, parseItem } from "./items.ts";
import { queryPage } from "./paginate.ts";

export function dynamoApiKeyRepository(db: Db): ApiKeyRepository {
  const get = async (id: string) => {
    const out = await db.doc.send(
      new GetCommand({ TableName: db.table, Key: keys.apiKey(id), ConsistentRead: true }),
    );
    return out.Item ? parseItem(ApiKey, "api key", out.Item) : undefined;
  };
  return {
    get,
    async create(key) {
      try {
        // Id collision (astronomically unlikely, but never overwrite a key).
        await db.doc.send(
          new PutCommand({
            TableName: db.table,
            Item: { ...keys.apiKey(key.id), gsi1pk: keys.apiKeysOf(key.workspaceId), gsi1sk: key.id, ...key },
            ConditionExpression: "attribute_not_exists(pk)",
          }),
        );
      } catch (err) {
        if (isConditionFailure(err)) throw conflict(`api key ${key.id} already exists`);
        throw err;
      }
    },
    list(workspaceId, page, opts) {
      return queryPage(
        db,
        {
          IndexName: "gsi1",
          KeyConditionExpression: "gsi1pk = :pk",
          ExpressionAttributeValues: { ":pk": keys.apiKeysOf(workspaceId) },
        },
        (item) => {
          const key = parseItem(ApiKey, "api key", item);
          return key.revokedAt && !opts?.includeRevoked ? undefined : key;
        },
        page,
      );
    },
    async revoke(workspaceId, id, at) {
      try {
        // Revoke racing revoke, or a revoke of another workspace's key: only a live key of this workspace changes.
        await db.doc.send(
          new UpdateCommand({
            TableName: db.table,
            Key: keys.apiKey(id),
            UpdateExpression: "SET revokedAt = :at",
            ConditionExpression:
              "attribute_exists(pk) AND workspaceId = :ws AND attribute_not_exists(revokedAt)",
            ExpressionAttributeValues: { ":at": at, ":ws": workspaceId },
          }),
        );
        return true;
      } catch (err) {
        if (!isConditionFailure(err)) throw err;
      }
      const existing = await get(id);
      if (!existing || existing.workspaceId !== workspaceId) throw notFound(`api key ${id} not found`);
      return false;
    },
    async touch(id, at, resolutionMs) {
      const threshold = new Date(Date.parse(at) - resolutionMs).toISOString();
      try {
        // Many requests with one key at once: at most one of them writes per resolution window.
        await db.doc.send(
          new UpdateCommand({
            TableName: db.table,
            Key: keys.apiKey(id),
            UpdateExpression: "SET lastUsedAt = :at",
            ConditionExpression:
              "attribute_exists(pk) AND (attribute_not_exists(lastUsedAt) OR lastUsedAt < :threshold)",
            ExpressionAttributeValues: { ":at": at, ":threshold": threshold },
          }),
        );
      } catch (err) {
        if (!isConditionFailure(err)) throw err;
      }
    },
  };
}
