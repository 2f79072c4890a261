import { PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { JobEvent } from "../../contracts/jobs.ts";
import { newId } from "../../domain/ids.ts";
import type { JobEventRepository } from "../../ports/repositories.ts";
import type { Db } from "./client.ts";
import { keys, parseItem, ttlOf } from "./items.ts";

/** A job's lifecycle events, in its own partition, ordered by their (time-sortable) ids. */
export function dynamoJobEventRepository(db: Db): JobEventRepository {
  return {
    async append(jobId, event) {
      const stored = { id: newId(Date.parse(event.at)), ...event };
      await db.doc.send(
        new PutCommand({
          TableName: db.table,
          Item: { ...keys.jobEvent(jobId, stored.id), ...stored, ttl: ttlOf(event.at, 90) },
        }),
      );
      return stored;
    },
    async list(jobId, afterId) {
      const events: JobEvent[] = [];
      let start: Record<string, unknown> | undefined;
      do {
        const out = await db.doc.send(
          new QueryCommand({
            TableName: db.table,
            // Only events (the job's own item shares the partition): ids are fixed-length, so
            // "EVT#<id>~" sorts after that id and before every later one; "EVT#~" after them all.
            KeyConditionExpression: "pk = :pk AND sk BETWEEN :from AND :to",
            ExpressionAttributeValues: {
              ":pk": keys.job(jobId).pk,
              ":from": afterId ? `${keys.jobEvent(jobId, afterId).sk}~` : "EVT#",
              ":to": "EVT#~",
            },
            ConsistentRead: true,
            ExclusiveStartKey: start,
          }),
        );
        for (const item of out.Items ?? []) events.push(parseItem(JobEvent, "job event", item));
        start = out.LastEvaluatedKey;
      } while (start);
      return events;
    },
  };
}
