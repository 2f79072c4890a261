import { ScanCommand } from "@aws-sdk/lib-dynamodb";
import type { Db } from "../../shared/adapters/dynamo/client.ts";

/** Every item in the table, for "nothing was written" assertions. */
export async function snapshot(db: Db): Promise<string> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await db.doc.send(new ScanCommand({ TableName: db.table, ExclusiveStartKey: start }));
    items.push(...(out.Items ?? []));
    start = out.LastEvaluatedKey;
  } while (start);
  return JSON.stringify(items.sort((a, b) => `${a.pk}${a.sk}`.localeCompare(`${b.pk}${b.sk}`)));
}

/** Counts the DynamoDB requests a client sends, by command name (e.g. QueryCommand). */
export function countRequests(db: Db): { counts: Map<string, number>; total(): number; reset(): void } {
  const counts = new Map<string, number>();
  db.doc.middlewareStack.add(
    (next, context) => async (args) => {
      const name = String((context as { commandName?: string }).commandName);
      counts.set(name, (counts.get(name) ?? 0) + 1);
      return next(args);
    },
    { step: "initialize", name: `countRequests-${Math.random()}` },
  );
  return {
    counts,
    total: () => [...counts.values()].reduce((a, b) => a + b, 0),
    reset: () => counts.clear(),
  };
}
