import { GetCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { z } from "zod";
import type { QuotaRepository, QuotaState } from "../../ports/repositories.ts";
import type { Db } from "./client.ts";
import { isConditionFailure, keys, parseItem } from "./items.ts";

const Item = z.object({
  maxGpus: z.number().int().optional(),
  maxRunningJobs: z.number().int().optional(),
  usedGpus: z.number().int().default(0),
  usedJobs: z.number().int().default(0),
});

const state = (item: z.infer<typeof Item>): QuotaState => ({
  limits: { maxGpus: item.maxGpus, maxRunningJobs: item.maxRunningJobs },
  used: { gpus: item.usedGpus, runningJobs: item.usedJobs },
});

/**
 * One item per workspace: limits and the use counted against them. DynamoDB conditions cannot add, so a
 * reservation computes the room left (limit − asked) from a read, and the condition also checks that the
 * limit is still the one it read: a limit changed in between makes it read again.
 */
export function dynamoQuotaRepository(db: Db): QuotaRepository {
  const read = async (workspaceId: string) => {
    const out = await db.doc.send(
      new GetCommand({ TableName: db.table, Key: keys.quota(workspaceId), ConsistentRead: true }),
    );
    return parseItem(Item, "quota", out.Item ?? {});
  };
  return {
    get: async (workspaceId) => state(await read(workspaceId)),
    async setLimits(workspaceId, limits) {
      const set = ["usedGpus = if_not_exists(usedGpus, :zero)", "usedJobs = if_not_exists(usedJobs, :zero)"];
      const remove: string[] = [];
      const values: Record<string, unknown> = { ":zero": 0 };
      for (const name of ["maxGpus", "maxRunningJobs"] as const) {
        const v = limits[name];
        if (v === null) remove.push(name);
        else if (v !== undefined) {
          set.push(`${name} = :${name}`);
          values[`:${name}`] = v;
        }
      }
      const out = await db.doc.send(
        new UpdateCommand({
          TableName: db.table,
          Key: keys.quota(workspaceId),
          UpdateExpression: `SET ${set.join(", ")}${remove.length ? ` REMOVE ${remove.join(", ")}` : ""}`,
          ExpressionAttributeValues: values,
          ReturnValues: "ALL_NEW",
        }),
      );
      return state(parseItem(Item, "quota", out.Attributes ?? {}));
    },
    async reserve(workspaceId, gpus) {
      for (let attempt = 0; attempt < 10; attempt++) {
        const item = await read(workspaceId);
        if (item.maxRunningJobs !== undefined && item.usedJobs + 1 > item.maxRunningJobs) {
          return {
            ok: false,
            limit: "maxRunningJobs",
            value: item.maxRunningJobs,
            used: item.usedJobs,
            asked: 1,
          };
        }
        if (item.maxGpus !== undefined && item.usedGpus + gpus > item.maxGpus) {
          return { ok: false, limit: "maxGpus", value: item.maxGpus, used: item.usedGpus, asked: gpus };
        }
        const conditions: string[] = [];
        const values: Record<string, unknown> = { ":g": gpus, ":one": 1 };
        for (const [limit, used, asked] of [
          ["maxGpus", "usedGpus", gpus],
          ["maxRunningJobs", "usedJobs", 1],
        ] as const) {
          const value = item[limit];
          if (value === undefined) conditions.push(`attribute_not_exists(${limit})`);
          else {
            conditions.push(`(${limit} = :${limit} AND ${used} <= :${used}Room)`);
            values[`:${limit}`] = value;
            values[`:${used}Room`] = value - asked;
          }
        }
        try {
          // Concurrent submits: each takes its share only if it still fits under an unchanged limit.
          await db.doc.send(
            new UpdateCommand({
              TableName: db.table,
              Key: keys.quota(workspaceId),
              UpdateExpression: "ADD usedGpus :g, usedJobs :one",
              ConditionExpression: conditions.join(" AND "),
              ExpressionAttributeValues: values,
            }),
          );
          return { ok: true };
        } catch (err) {
          if (!isConditionFailure(err)) throw err;
        }
      }
      throw new Error(`the quota of workspace ${workspaceId} kept changing`);
    },
    async release(workspaceId, gpus) {
      try {
        // Never below zero: a release without a matching reserve (a bug, a restore) changes nothing.
        await db.doc.send(
          new UpdateCommand({
            TableName: db.table,
            Key: keys.quota(workspaceId),
            UpdateExpression: "ADD usedGpus :g, usedJobs :one",
            ConditionExpression: "usedJobs >= :min AND usedGpus >= :gpus",
            ExpressionAttributeValues: { ":g": -gpus, ":one": -1, ":min": 1, ":gpus": gpus },
          }),
        );
      } catch (err) {
        if (!isConditionFailure(err)) throw err;
      }
    },
  };
}
