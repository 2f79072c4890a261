import { UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { z } from "zod";
import type { Db } from "./client.ts";

/**
 * Key builders for the single table. Every entity's item is built here, so the key design in
 * docs/data-model.md has exactly one implementation.
 */
export const keys = {
  workspace: (ws: string) => ({ pk: `WS#${ws}`, sk: "WS" }),
  apiKey: (id: string) => ({ pk: `APIKEY#${id}`, sk: "APIKEY" }),
  apiKeysOf: (ws: string) => `WS#${ws}#APIKEYS`,
  registrationToken: (id: string) => ({ pk: `REGTOKEN#${id}`, sk: "REGTOKEN" }),
  registrationTokensOf: (ws: string) => `WS#${ws}#REGTOKENS`,
  nodeGroup: (ws: string, name: string) => ({ pk: `WS#${ws}`, sk: `NODEGROUP#${name}` }),
  nodeGroupsPrefix: "NODEGROUP#",
  nodeGroupId: (id: string) => `NODEGROUPID#${id}`,
  device: (id: string) => ({ pk: `DEVICE#${id}`, sk: "DEVICE" }),
  devicesOf: (ws: string) => `WS#${ws}#DEVICES`,
  reservation: (deviceId: string, id: string) => ({ pk: `DEVICE#${deviceId}`, sk: `RES#${id}` }),
  reservationsPrefix: "RES#",
  reservationPointer: (id: string) => ({ pk: `RES#${id}`, sk: "RES" }),
  reservationsOf: (ws: string) => `WS#${ws}#RES`,
  expiryShard: (shard: number) => `EXPIRY#${shard}`,
  feedHead: (deviceId: string) => ({ pk: `DEVICE#${deviceId}`, sk: "FEED" }),
  feedEntry: (deviceId: string, seq: number) => ({ pk: `FEED#${deviceId}`, sk: pad(seq) }),
  feedOf: (deviceId: string) => `FEED#${deviceId}`,
  feedChangeShard: (shard: number) => `FEEDCHANGES#${shard}`,
  output: (reservationId: string, seq: number) => ({ pk: `OUT#${reservationId}`, sk: pad(seq) }),
  outputOf: (reservationId: string) => `OUT#${reservationId}`,
  job: (id: string) => ({ pk: `JOB#${id}`, sk: "JOB" }),
  jobsOf: (ws: string) => `WS#${ws}#JOBS`,
  jobQueue: (shard: number) => `JOBQ#${shard}`,
  jobEvent: (jobId: string, eventId: string) => ({ pk: `JOB#${jobId}`, sk: `EVT#${eventId}` }),
  profile: (ws: string, name: string) => ({ pk: `WS#${ws}`, sk: `PROFILE#${name}` }),
  profilesPrefix: "PROFILE#",
  quota: (ws: string) => ({ pk: `WS#${ws}`, sk: "QUOTA" }),
  cloudReservation: (id: string) => ({ pk: `CLOUDRES#${id}`, sk: "CLOUDRES" }),
  cloudQueue: (shard: number) => `CLOUDQ#${shard}`,
} as const;

/** Zero-padded so that string order is numeric order. */
export const pad = (n: number) => String(n).padStart(16, "0");

/** A stable shard in [0, shards) for a string (the change and expiry indexes spread their writes). */
export function shardOf(value: string, shards: number): number {
  let h = 0;
  for (let i = 0; i < value.length; i++) h = (h * 31 + value.charCodeAt(i)) >>> 0;
  return h % shards;
}

/** Epoch seconds for DynamoDB's TTL attribute (garbage collection only). */
export const ttlOf = (iso: string, plusDays: number) =>
  Math.floor(Date.parse(iso) / 1000) + plusDays * 86_400;

export const KEY_ATTRIBUTES = ["pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk"] as const;

/** Thrown when an item read from the table does not match its schema: a bug or a bad migration. */
export class CorruptItemError extends Error {
  constructor(what: string, item: Record<string, unknown>, issues: string) {
    super(`stored ${what} ${String(item.pk)}/${String(item.sk)} does not match its schema: ${issues}`);
    this.name = "CorruptItemError";
  }
}

/** Parses an item read from the table, dropping the key attributes. */
export function parseItem<S extends z.ZodType>(
  schema: S,
  what: string,
  item: Record<string, unknown>,
): z.infer<S> {
  const result = schema.safeParse(item);
  if (!result.success) {
    throw new CorruptItemError(
      what,
      item,
      result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "),
    );
  }
  return result.data;
}

/**
 * SET/REMOVE clauses for a partial update: `undefined` leaves a field alone, `null` removes it.
 * Returns the expression parts to merge into an UpdateCommand.
 */
export function updateParts(fields: Record<string, unknown>) {
  const set: string[] = [];
  const remove: string[] = [];
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    names[`#${key}`] = key;
    if (value === null) remove.push(`#${key}`);
    else {
      set.push(`#${key} = :${key}`);
      values[`:${key}`] = value;
    }
  }
  const expression = [
    set.length ? `SET ${set.join(", ")}` : "",
    remove.length ? `REMOVE ${remove.join(", ")}` : "",
  ]
    .filter(Boolean)
    .join(" ");
  return { expression, names, values };
}

/**
 * A partial update (see updateParts) of an item that must exist, and meet `condition` if one is given: a
 * delete racing the update must not resurrect the item. Returns the item as it is now, or undefined when it
 * does not exist or the condition failed (nothing written).
 */
export async function updateExisting(
  db: Db,
  key: { pk: string; sk: string },
  fields: Record<string, unknown>,
  condition?: { expression: string; values: Record<string, unknown> },
): Promise<Record<string, unknown> | undefined> {
  const { expression, names, values } = updateParts(fields);
  try {
    const out = await db.doc.send(
      new UpdateCommand({
        TableName: db.table,
        Key: key,
        UpdateExpression: expression,
        ConditionExpression: `attribute_exists(pk)${condition ? ` AND ${condition.expression}` : ""}`,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: { ...values, ...condition?.values },
        ReturnValues: "ALL_NEW",
      }),
    );
    return out.Attributes;
  } catch (err) {
    if (isConditionFailure(err)) return undefined;
    throw err;
  }
}

export const isConditionFailure = (err: unknown): boolean =>
  (err as { name?: string }).name === "ConditionalCheckFailedException";
