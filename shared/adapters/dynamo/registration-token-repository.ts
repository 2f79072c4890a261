import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { conflict, notFound } from "../../domain/errors.ts";
import { RegistrationToken } from "../../domain/registration-token.ts";
import type { RegistrationTokenRepository } from "../../ports/repositories.ts";
import type { Db } from "./client.ts";
import { isConditionFailure, keys, parseItem, updateExisting } from "./items.ts";
import { queryPage } from "./paginate.ts";

const parse = (item: Record<string, unknown>) => parseItem(RegistrationToken, "registration token", item);

export function dynamoRegistrationTokenRepository(db: Db): RegistrationTokenRepository {
  const get = async (id: string) => {
    const out = await db.doc.send(
      new GetCommand({ TableName: db.table, Key: keys.registrationToken(id), ConsistentRead: true }),
    );
    return out.Item ? parse(out.Item) : undefined;
  };
  const missing = (id: string) => notFound(`registration token ${id} not found`);
  return {
    get,
    async create(token) {
      try {
        // Id collision: never overwrite a token.
        await db.doc.send(
          new PutCommand({
            TableName: db.table,
            Item: {
              ...keys.registrationToken(token.id),
              gsi1pk: keys.registrationTokensOf(token.workspaceId),
              gsi1sk: token.id,
              ...token,
            },
            ConditionExpression: "attribute_not_exists(pk)",
          }),
        );
      } catch (err) {
        if (isConditionFailure(err)) throw conflict(`registration token ${token.id} already exists`);
        throw err;
      }
    },
    list(workspaceId, page) {
      return queryPage(
        db,
        {
          IndexName: "gsi1",
          KeyConditionExpression: "gsi1pk = :pk",
          ExpressionAttributeValues: { ":pk": keys.registrationTokensOf(workspaceId) },
        },
        parse,
        page,
      );
    },
    async update(workspaceId, id, patch, at) {
      // A delete racing the update, or another workspace's id: only an existing token of this workspace changes.
      const item = await updateExisting(
        db,
        keys.registrationToken(id),
        { ...patch, updatedAt: at },
        {
          expression: "workspaceId = :ws",
          values: { ":ws": workspaceId },
        },
      );
      if (!item) throw missing(id);
      return parse(item);
    },
    async delete(workspaceId, id) {
      try {
        // Another workspace's id must not delete anything.
        await db.doc.send(
          new DeleteCommand({
            TableName: db.table,
            Key: keys.registrationToken(id),
            ConditionExpression: "attribute_exists(pk) AND workspaceId = :ws",
            ExpressionAttributeValues: { ":ws": workspaceId },
          }),
        );
      } catch (err) {
        if (isConditionFailure(err)) throw missing(id);
        throw err;
      }
    },
    async claimRegistration(id, now) {
      try {
        // Concurrent first logins: the counter and the cap are checked in one conditional write, so N
        // racing logins against maxRegistrations M register exactly M devices.
        await db.doc.send(
          new UpdateCommand({
            TableName: db.table,
            Key: keys.registrationToken(id),
            UpdateExpression: "ADD deviceCount :one",
            ConditionExpression:
              "attribute_exists(pk) AND (attribute_not_exists(maxRegistrations) OR deviceCount < maxRegistrations) " +
              "AND (attribute_not_exists(expiresAt) OR expiresAt > :now)",
            ExpressionAttributeValues: { ":one": 1, ":now": now },
          }),
        );
        return true;
      } catch (err) {
        if (isConditionFailure(err)) return false;
        throw err;
      }
    },
    async releaseRegistration(id) {
      try {
        // A token deleted meanwhile stays deleted (no item recreated by ADD); the count never goes below zero.
        await db.doc.send(
          new UpdateCommand({
            TableName: db.table,
            Key: keys.registrationToken(id),
            UpdateExpression: "ADD deviceCount :minus",
            ConditionExpression: "attribute_exists(pk) AND deviceCount > :zero",
            ExpressionAttributeValues: { ":minus": -1, ":zero": 0 },
          }),
        );
      } catch (err) {
        if (!isConditionFailure(err)) throw err;
      }
    },
  };
}
