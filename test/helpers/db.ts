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

/** The DynamoDB requests a client has sent since `reset()`, in all and by command (Db counts them). */
export function countRequests(db: Db): { total(): number; of(command: string): number; reset(): void } {
  let base = new Map(db.requests);
  const of = (command: string) => (db.requests.get(command) ?? 0) - (base.get(command) ?? 0);
  return {
    of,
    total: () => [...db.requests.keys()].reduce((n, k) => n + of(k), 0),
    reset: () => {
      base = new Map(db.requests);
    },
  };
}
