import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { createTableInput } from "./table.ts";

/** What every repository needs: the document client and the table name. */
export interface Db {
  doc: DynamoDBDocumentClient;
  table: string;
  /** Requests sent, by command name (GetCommand, QueryCommand, ...), since the client was made. */
  requests: Map<string, number>;
}

export interface DynamoConnection {
  endpoint?: string;
  region?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

export function createDb(table: string, connection: DynamoConnection = {}): Db {
  const client = new DynamoDBClient({
    ...(connection.endpoint ? { endpoint: connection.endpoint } : {}),
    ...(connection.region ? { region: connection.region } : {}),
    ...(connection.credentials ? { credentials: connection.credentials } : {}),
  });
  const doc = DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
  const requests = new Map<string, number>();
  doc.middlewareStack.add(
    (next, context) => (args) => {
      const name = (context as { commandName?: string }).commandName ?? "unknown";
      requests.set(name, (requests.get(name) ?? 0) + 1);
      return next(args);
    },
    { step: "initialize", name: "berthRequestCounter" },
  );
  return { doc, table, requests };
}

/** Creates the table when it does not exist (local engines only; in AWS the infra owns it). */
export async function ensureTable(db: Db): Promise<"created" | "exists"> {
  try {
    await db.doc.send(new DescribeTableCommand({ TableName: db.table }));
    return "exists";
  } catch (err) {
    if ((err as { name?: string }).name !== "ResourceNotFoundException") throw err;
  }
  try {
    await db.doc.send(new CreateTableCommand(createTableInput(db.table)));
  } catch (err) {
    // Two processes starting at once: the other one created it.
    if ((err as { name?: string }).name !== "ResourceInUseException") throw err;
    return "exists";
  }
  return "created";
}
