import {
  type AttributeValue,
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
} from "@aws-sdk/client-dynamodb";
import {
  BatchGetCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  TransactWriteCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import {
  INDEX_KEYS,
  type Item,
  type Key,
  type QueryInput,
  type QueryPage,
  StorageContentionError,
  StorageUnavailableError,
  type Store,
  type WriteOp,
} from "../../ports/store.ts";
import { checkChanges } from "../store/evaluate.ts";
import { checkTransaction } from "../store/plan.ts";
import { Expression, itemWithMaps } from "./expressions.ts";
import { createTableInput } from "./table.ts";

export interface DynamoConnection {
  endpoint?: string;
  region?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

const isCondFailure = (err: unknown) => (err as { name?: string }).name === "ConditionalCheckFailedException";

/** The item DynamoDB returns with a failed condition (ReturnValuesOnConditionCheckFailure: ALL_OLD). */
const currentOf = (err: unknown): Item | undefined => {
  const raw = (err as { Item?: Record<string, AttributeValue> }).Item;
  return raw ? (unmarshall(raw) as Item) : undefined;
};

const UNAVAILABLE = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "ProvisionedThroughputExceededException",
  "ThrottlingException",
  "RequestLimitExceeded",
  "InternalServerError",
  "ServiceUnavailable",
  "TimeoutError",
]);

/** Errors that mean "not now" become StorageUnavailableError (503); the rest are bugs and pass through. */
function translate(err: unknown): never {
  const e = err as {
    name?: string;
    code?: string;
    message?: string;
    $metadata?: { httpStatusCode?: number };
  };
  if (
    UNAVAILABLE.has(e.name ?? "") ||
    UNAVAILABLE.has(e.code ?? "") ||
    (e.$metadata?.httpStatusCode ?? 0) >= 500 ||
    /ECONNREFUSED|socket hang up|ECONNRESET/.test(e.message ?? "")
  ) {
    throw new StorageUnavailableError(`DynamoDB is unavailable: ${e.message ?? e.name}`, { cause: err });
  }
  throw err;
}

/** Only the key attributes a query's start key may carry: the table's, plus the index's. */
function startKey(input: QueryInput): Record<string, unknown> | undefined {
  if (!input.after) return undefined;
  const names = ["pk", "sk", ...(input.index ? Object.values(INDEX_KEYS[input.index]) : [])];
  return Object.fromEntries(names.map((n) => [n, input.after![n]]));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * DynamoDB (AWS, or DynamoDB Local): the single table through the document client. Conditions and changes
 * are compiled into expressions; a failed condition returns the item (ReturnValuesOnConditionCheckFailure),
 * so callers need not read again. `transact` is TransactWriteItems; a transaction that collides with
 * another on the same items (TransactionConflict) is retried a few times before it gives up.
 */
export function dynamoStore(
  table: string,
  connection: DynamoConnection = {},
): Store & { ensureTable(): Promise<"created" | "exists"> } {
  const client = new DynamoDBClient({
    ...(connection.endpoint ? { endpoint: connection.endpoint } : {}),
    ...(connection.region ? { region: connection.region } : {}),
    ...(connection.credentials ? { credentials: connection.credentials } : {}),
  });
  const doc = DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
  const requests = new Map<string, number>();
  const count = (op: string) => requests.set(op, (requests.get(op) ?? 0) + 1);
  // One way in for every command: counted, and failures that mean "not now" translated.
  const send = async <T>(op: string, command: object): Promise<T> => {
    count(op);
    try {
      return (await doc.send(command as Parameters<typeof doc.send>[0])) as T;
    } catch (err) {
      if (isCondFailure(err) || (err as { name?: string }).name === "TransactionCanceledException") throw err;
      return translate(err);
    }
  };

  const conditional = (cond: WriteOp["if"], e: Expression) =>
    cond ? { ConditionExpression: e.condition(cond) } : {};

  const query = async (input: QueryInput): Promise<QueryPage> => {
    const e = new Expression();
    const keys = input.index ? INDEX_KEYS[input.index] : { pk: "pk", sk: "sk" };
    let keyCond = `${e.path(keys.pk)} = ${e.value(input.partition)}`;
    const r = input.range;
    // An empty prefix is no range (and the sort key must then not appear among the names: DynamoDB refuses
    // names an expression does not use).
    if (r && !("prefix" in r && r.prefix === "")) {
      const sk = e.path(keys.sk);
      if ("prefix" in r) keyCond += ` AND begins_with(${sk}, ${e.value(r.prefix)})`;
      else if ("between" in r) {
        // DynamoDB refuses a range whose low bound is above its high one; it holds nothing on any engine.
        if (r.between[0] > r.between[1]) return { items: [] };
        keyCond += ` AND ${sk} BETWEEN ${e.value(r.between[0])} AND ${e.value(r.between[1])}`;
      } else {
        const [op, v] = Object.entries(r)[0] as [string, string];
        keyCond += ` AND ${sk} ${{ gt: ">", ge: ">=", lt: "<", le: "<=" }[op]} ${e.value(v)}`;
      }
    }
    const items: Item[] = [];
    let start = startKey(input);
    const want = input.limit === undefined ? undefined : input.limit + 1;
    for (;;) {
      const out = await send<{ Items?: Item[]; LastEvaluatedKey?: Record<string, unknown> }>(
        "query",
        new QueryCommand({
          TableName: table,
          ...(input.index ? { IndexName: input.index } : { ConsistentRead: true }),
          KeyConditionExpression: keyCond,
          ...e.attributes(),
          ScanIndexForward: input.order !== "desc",
          ...(want ? { Limit: want - items.length } : {}),
          ExclusiveStartKey: start,
        }),
      );
      items.push(...(out.Items ?? []));
      if (want && items.length >= want) {
        items.length = want - 1;
        const lastItem = items[items.length - 1]!;
        const cursor: Record<string, unknown> = {};
        for (const n of ["pk", "sk", ...(input.index ? Object.values(INDEX_KEYS[input.index]) : [])])
          cursor[n] = lastItem[n];
        return { items, last: cursor };
      }
      if (!out.LastEvaluatedKey) return { items };
      start = out.LastEvaluatedKey;
    }
  };

  const writeOf = (op: WriteOp): NonNullable<TransactWriteCommandInput["TransactItems"]>[number] => {
    const e = new Expression();
    const base = { TableName: table, ReturnValuesOnConditionCheckFailure: "ALL_OLD" as const };
    if ("put" in op)
      return { Put: { ...base, Item: itemWithMaps(op.put), ...conditional(op.if, e), ...e.attributes() } };
    if ("update" in op) {
      checkChanges(op.changes);
      const update = e.update(op.changes);
      return {
        Update: {
          ...base,
          Key: op.update,
          UpdateExpression: update,
          ...conditional(op.if, e),
          ...e.attributes(),
        },
      };
    }
    if ("delete" in op)
      return { Delete: { ...base, Key: op.delete, ...conditional(op.if, e), ...e.attributes() } };
    return {
      ConditionCheck: { ...base, Key: op.check, ConditionExpression: e.condition(op.if), ...e.attributes() },
    };
  };

  return {
    describe: `dynamodb ${table}${connection.endpoint ? ` at ${connection.endpoint}` : ""}`,
    requests,
    async get(key) {
      const out = await send<{ Item?: Item }>(
        "get",
        new GetCommand({ TableName: table, Key: key, ConsistentRead: true }),
      );
      return out.Item;
    },
    async getMany(keys) {
      const found: Item[] = [];
      for (let i = 0; i < keys.length; i += 100) {
        let request: Record<string, { Keys: Key[]; ConsistentRead: boolean }> | undefined = {
          [table]: { Keys: keys.slice(i, i + 100), ConsistentRead: true },
        };
        for (let round = 0; request && Object.keys(request).length > 0; round++) {
          if (round > 0) await sleep(Math.min(1000, 20 * 2 ** round));
          const out: { Responses?: Record<string, Item[]>; UnprocessedKeys?: typeof request } = await send(
            "getMany",
            new BatchGetCommand({ RequestItems: request }),
          );
          found.push(...(out.Responses?.[table] ?? []));
          request = out.UnprocessedKeys;
        }
      }
      return found;
    },
    async put(item, o) {
      const e = new Expression();
      try {
        await send(
          "put",
          new PutCommand({
            TableName: table,
            Item: itemWithMaps(item),
            ...conditional(o?.if, e),
            ...e.attributes(),
            ReturnValuesOnConditionCheckFailure: "ALL_OLD",
          }),
        );
        return { ok: true, item };
      } catch (err) {
        if (isCondFailure(err)) return { ok: false, current: currentOf(err) };
        throw err;
      }
    },
    async update(key, changes, o) {
      const e = new Expression();
      checkChanges(changes);
      const update = e.update(changes);
      try {
        const out = await send<{ Attributes?: Item }>(
          "update",
          new UpdateCommand({
            TableName: table,
            Key: key,
            UpdateExpression: update,
            ...conditional(o?.if, e),
            ...e.attributes(),
            ReturnValues: "ALL_NEW",
            ReturnValuesOnConditionCheckFailure: "ALL_OLD",
          }),
        );
        return { ok: true, item: out.Attributes as Item };
      } catch (err) {
        if (isCondFailure(err)) return { ok: false, current: currentOf(err) };
        throw err;
      }
    },
    async delete(key, o) {
      const e = new Expression();
      try {
        const out = await send<{ Attributes?: Item }>(
          "delete",
          new DeleteCommand({
            TableName: table,
            Key: key,
            ...conditional(o?.if, e),
            ...e.attributes(),
            ReturnValues: "ALL_OLD",
            ReturnValuesOnConditionCheckFailure: "ALL_OLD",
          }),
        );
        return { ok: true, old: out.Attributes };
      } catch (err) {
        if (isCondFailure(err)) return { ok: false, current: currentOf(err) };
        throw err;
      }
    },
    query,
    async transact(ops) {
      checkTransaction(ops);
      const TransactItems = ops.map(writeOf);
      for (let attempt = 0; ; attempt++) {
        try {
          await send("transact", new TransactWriteCommand({ TransactItems }));
          return { ok: true };
        } catch (err) {
          if ((err as { name?: string }).name !== "TransactionCanceledException") throw err;
          const reasons =
            (err as { CancellationReasons?: { Code?: string; Item?: Record<string, AttributeValue> }[] })
              .CancellationReasons ?? [];
          const failed = reasons.findIndex((r) => r.Code === "ConditionalCheckFailed");
          if (failed !== -1) {
            const raw = reasons[failed]!.Item;
            return { ok: false, failed, current: raw ? (unmarshall(raw) as Item) : undefined };
          }
          // Another transaction on the same items at the same moment: it wins, we try again.
          if (!reasons.some((r) => r.Code === "TransactionConflict") || attempt >= 6) {
            if (reasons.some((r) => r.Code === "TransactionConflict"))
              throw new StorageContentionError("the items of a transaction kept changing");
            return translate(err);
          }
          await sleep(Math.random() * 10 * 2 ** attempt);
        }
      }
    },
    async scan(after, limit = 1000) {
      const out = await send<{ Items?: Item[]; LastEvaluatedKey?: Record<string, unknown> }>(
        "scan",
        new ScanCommand({
          TableName: table,
          Limit: limit,
          ConsistentRead: true,
          ...(after ? { ExclusiveStartKey: { pk: after.pk, sk: after.sk } } : {}),
        }),
      );
      return { items: out.Items ?? [], ...(out.LastEvaluatedKey ? { last: out.LastEvaluatedKey } : {}) };
    },
    // DynamoDB's own TTL collects expired items.
    collectGarbage: async () => 0,
    async close() {
      doc.destroy();
    },
    /** Creates the table when it does not exist (DynamoDB Local, a self-hosted table); in AWS the infra owns it. */
    async ensureTable() {
      try {
        await client.send(new DescribeTableCommand({ TableName: table }));
        return "exists";
      } catch (err) {
        if ((err as { name?: string }).name !== "ResourceNotFoundException") return translate(err);
      }
      try {
        await client.send(new CreateTableCommand(createTableInput(table)));
      } catch (err) {
        // Two processes starting at once: the other one created it.
        if ((err as { name?: string }).name !== "ResourceInUseException") return translate(err);
        return "exists";
      }
      return "created";
    },
  };
}
