import { PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { z } from "zod";
import type { OutputRepository, StoredOutputChunk } from "../../ports/repositories.ts";
import type { Db } from "./client.ts";
import { isConditionFailure, keys, pad, parseItem, ttlOf } from "./items.ts";
import { queryPage } from "./paginate.ts";

const Chunk = z.object({
  stream: z.enum(["stdout", "stderr"]),
  seq: z.number().int(),
  data: z.string(),
  receivedAt: z.string(),
});

export function dynamoOutputRepository(db: Db): OutputRepository {
  return {
    async append(reservationId, chunk, receivedAt, expiresAt) {
      try {
        // An agent retrying a batch: a seq already stored is ignored, never overwritten.
        await db.doc.send(
          new PutCommand({
            TableName: db.table,
            Item: {
              ...keys.output(reservationId, chunk.seq),
              ...chunk,
              receivedAt,
              ttl: ttlOf(expiresAt, 30),
            },
            ConditionExpression: "attribute_not_exists(pk)",
          }),
        );
        return true;
      } catch (err) {
        if (isConditionFailure(err)) return false;
        throw err;
      }
    },
    async since(reservationId, afterSeq, limit) {
      const out = await db.doc.send(
        new QueryCommand({
          TableName: db.table,
          KeyConditionExpression: "pk = :pk AND sk > :after",
          ExpressionAttributeValues: { ":pk": keys.outputOf(reservationId), ":after": pad(afterSeq) },
          ConsistentRead: true,
          Limit: limit,
        }),
      );
      return (out.Items ?? []).map((item) => parseItem(Chunk, "output chunk", item));
    },
    list(reservationId, page, stream) {
      return queryPage(
        db,
        {
          KeyConditionExpression: "pk = :pk",
          ExpressionAttributeValues: { ":pk": keys.outputOf(reservationId) },
          ConsistentRead: true,
        },
        (item) => {
          const chunk: StoredOutputChunk = parseItem(Chunk, "output chunk", item);
          return !stream || chunk.stream === stream ? chunk : undefined;
        },
        page,
      );
    },
  };
}
