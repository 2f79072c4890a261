import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { conflict, notFound } from "../../domain/errors.ts";
import { NodeGroup } from "../../domain/node-group.ts";
import type { NodeGroupRepository } from "../../ports/repositories.ts";
import type { Db } from "./client.ts";
import { isConditionFailure, keys, parseItem, updateExisting } from "./items.ts";
import { queryPage } from "./paginate.ts";

const parse = (item: Record<string, unknown>) => parseItem(NodeGroup, "node group", item);

export function dynamoNodeGroupRepository(db: Db): NodeGroupRepository {
  const get = async (workspaceId: string, name: string) => {
    const out = await db.doc.send(
      new GetCommand({ TableName: db.table, Key: keys.nodeGroup(workspaceId, name), ConsistentRead: true }),
    );
    return out.Item ? parse(out.Item) : undefined;
  };
  const missing = (name: string) => notFound(`node group ${name} not found`);
  return {
    get,
    async create(group) {
      try {
        // Two creates of one name: the name is the key, so exactly one wins.
        await db.doc.send(
          new PutCommand({
            TableName: db.table,
            Item: {
              ...keys.nodeGroup(group.workspaceId, group.name),
              gsi1pk: keys.nodeGroupId(group.id),
              gsi1sk: "NODEGROUP",
              ...group,
            },
            ConditionExpression: "attribute_not_exists(pk)",
          }),
        );
      } catch (err) {
        if (isConditionFailure(err)) throw conflict(`node group ${group.name} already exists`);
        throw err;
      }
    },
    async getById(id) {
      const out = await db.doc.send(
        new QueryCommand({
          TableName: db.table,
          IndexName: "gsi1",
          KeyConditionExpression: "gsi1pk = :pk",
          ExpressionAttributeValues: { ":pk": keys.nodeGroupId(id) },
        }),
      );
      const item = out.Items?.[0];
      return item ? parse(item) : undefined;
    },
    list(workspaceId, page) {
      return queryPage(
        db,
        {
          KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
          ExpressionAttributeValues: {
            ":pk": keys.workspace(workspaceId).pk,
            ":prefix": keys.nodeGroupsPrefix,
          },
        },
        parse,
        page,
      );
    },
    async update(workspaceId, name, patch, at) {
      // A delete racing the update must not resurrect the group.
      const item = await updateExisting(db, keys.nodeGroup(workspaceId, name), { ...patch, updatedAt: at });
      if (!item) throw missing(name);
      return parse(item);
    },
    async delete(workspaceId, name) {
      try {
        // A device joining while the group is deleted: join needs the item, delete needs a zero count,
        // so either the device joins and the delete is refused, or the delete wins and the join fails.
        await db.doc.send(
          new DeleteCommand({
            TableName: db.table,
            Key: keys.nodeGroup(workspaceId, name),
            ConditionExpression: "attribute_exists(pk) AND deviceCount = :zero",
            ExpressionAttributeValues: { ":zero": 0 },
          }),
        );
      } catch (err) {
        if (!isConditionFailure(err)) throw err;
        const group = await get(workspaceId, name);
        if (!group) throw missing(name);
        throw conflict(
          `node group ${name} still has ${group.deviceCount} device(s); delete or move them first`,
          {
            deviceCount: group.deviceCount,
          },
        );
      }
    },
    async join(workspaceId, name) {
      try {
        // See delete: a join never lands in a group that is being deleted.
        await db.doc.send(
          new UpdateCommand({
            TableName: db.table,
            Key: keys.nodeGroup(workspaceId, name),
            UpdateExpression: "ADD deviceCount :one",
            ConditionExpression: "attribute_exists(pk)",
            ExpressionAttributeValues: { ":one": 1 },
          }),
        );
        return true;
      } catch (err) {
        if (isConditionFailure(err)) return false;
        throw err;
      }
    },
    async leave(workspaceId, name) {
      try {
        // Never below zero, never recreating a deleted group.
        await db.doc.send(
          new UpdateCommand({
            TableName: db.table,
            Key: keys.nodeGroup(workspaceId, name),
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
