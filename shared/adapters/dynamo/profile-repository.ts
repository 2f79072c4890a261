import { DeleteCommand, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { ProfileView } from "../../contracts/profiles.ts";
import { conflict, notFound } from "../../domain/errors.ts";
import type { ProfileRepository } from "../../ports/repositories.ts";
import type { Db } from "./client.ts";
import { isConditionFailure, keys, parseItem, updateExisting } from "./items.ts";
import { queryPage } from "./paginate.ts";

const parse = (item: Record<string, unknown>) => parseItem(ProfileView, "profile", item);

export function dynamoProfileRepository(db: Db): ProfileRepository {
  const missing = (name: string) => notFound(`profile ${name} not found`);
  return {
    async create(workspaceId, profile) {
      try {
        // Two creates of one name: the name is the key, so exactly one wins.
        await db.doc.send(
          new PutCommand({
            TableName: db.table,
            Item: { ...keys.profile(workspaceId, profile.name), ...profile },
            ConditionExpression: "attribute_not_exists(pk)",
          }),
        );
      } catch (err) {
        if (isConditionFailure(err)) throw conflict(`profile ${profile.name} already exists`);
        throw err;
      }
    },
    async get(workspaceId, name) {
      const out = await db.doc.send(
        new GetCommand({ TableName: db.table, Key: keys.profile(workspaceId, name), ConsistentRead: true }),
      );
      return out.Item ? parse(out.Item) : undefined;
    },
    list(workspaceId, page) {
      return queryPage(
        db,
        {
          KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
          ExpressionAttributeValues: {
            ":pk": keys.workspace(workspaceId).pk,
            ":prefix": keys.profilesPrefix,
          },
        },
        parse,
        page,
      );
    },
    async update(workspaceId, name, patch, at) {
      // A delete racing the update must not resurrect the profile.
      const item = await updateExisting(db, keys.profile(workspaceId, name), { ...patch, updatedAt: at });
      if (!item) throw missing(name);
      return parse(item);
    },
    async delete(workspaceId, name) {
      try {
        await db.doc.send(
          new DeleteCommand({
            TableName: db.table,
            Key: keys.profile(workspaceId, name),
            ConditionExpression: "attribute_exists(pk)",
          }),
        );
      } catch (err) {
        if (isConditionFailure(err)) throw missing(name);
        throw err;
      }
    },
  };
}
