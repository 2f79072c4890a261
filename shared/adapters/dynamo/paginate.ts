import { QueryCommand, type QueryCommandInput } from "@aws-sdk/lib-dynamodb";
import type { Page, PageRequest } from "../../ports/pagination.ts";
import type { Db } from "./client.ts";
import { KEY_ATTRIBUTES } from "./items.ts";

/**
 * One page of a query, with an optional in-memory filter. Reads one item past the page to know
 * whether more follow, so the last page never carries a cursor. The cursor is the key of the last
 * item returned (not DynamoDB's LastEvaluatedKey), so filtered pages resume exactly where they stopped.
 *
 * @param map turns a raw item into the entity, or undefined to leave it out of the page
 */
export async function queryPage<T>(
  db: Db,
  input: Omit<QueryCommandInput, "TableName" | "Limit" | "ExclusiveStartKey">,
  map: (item: Record<string, unknown>) => T | undefined,
  page: PageRequest,
): Promise<Page<T>> {
  const items: T[] = [];
  let lastRaw: Record<string, unknown> | undefined;
  let startKey = page.cursor;
  for (;;) {
    const out = await db.doc.send(
      new QueryCommand({
        ...input,
        TableName: db.table,
        // After a filtered-out stretch, read ahead in larger steps rather than one item at a time.
        Limit: Math.max(page.limit + 1 - items.length, startKey === page.cursor ? 1 : 25),
        ExclusiveStartKey: startKey,
      }),
    );
    for (const raw of out.Items ?? []) {
      const entity = map(raw);
      if (entity === undefined) continue;
      if (items.length === page.limit) {
        return { items, cursor: keyOf(lastRaw!) };
      }
      items.push(entity);
      lastRaw = raw;
    }
    if (!out.LastEvaluatedKey) return { items };
    startKey = out.LastEvaluatedKey;
  }
}

function keyOf(item: Record<string, unknown>): Record<string, unknown> {
  const key: Record<string, unknown> = {};
  for (const name of KEY_ATTRIBUTES) if (item[name] !== undefined) key[name] = item[name];
  return key;
}
