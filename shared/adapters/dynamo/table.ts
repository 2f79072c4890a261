import type { CreateTableCommandInput } from "@aws-sdk/client-dynamodb";

/**
 * The single table, declared once: infra/storage.ts hands this object to `sst.aws.Dynamo`, and the
 * local server creates the same table in dynalite from it. See docs/data-model.md for the key design.
 */
export const TABLE_DEFINITION = {
  fields: {
    pk: "string",
    sk: "string",
    gsi1pk: "string",
    gsi1sk: "string",
    gsi2pk: "string",
    gsi2sk: "string",
  },
  primaryIndex: { hashKey: "pk", rangeKey: "sk" },
  globalIndexes: {
    gsi1: { hashKey: "gsi1pk", rangeKey: "gsi1sk" },
    gsi2: { hashKey: "gsi2pk", rangeKey: "gsi2sk" },
  },
  /** Garbage collection only: expiry itself is enforced by the sweeper, never by TTL. */
  ttl: "ttl",
} as const;

/** The CreateTable request for an engine without SST (dynalite, DynamoDB Local). */
export function createTableInput(tableName: string): CreateTableCommandInput {
  const def = TABLE_DEFINITION;
  return {
    TableName: tableName,
    BillingMode: "PAY_PER_REQUEST",
    AttributeDefinitions: Object.keys(def.fields).map((name) => ({
      AttributeName: name,
      AttributeType: "S",
    })),
    KeySchema: [
      { AttributeName: def.primaryIndex.hashKey, KeyType: "HASH" },
      { AttributeName: def.primaryIndex.rangeKey, KeyType: "RANGE" },
    ],
    GlobalSecondaryIndexes: Object.entries(def.globalIndexes).map(([IndexName, index]) => ({
      IndexName,
      KeySchema: [
        { AttributeName: index.hashKey, KeyType: "HASH" },
        { AttributeName: index.rangeKey, KeyType: "RANGE" },
      ],
      Projection: { ProjectionType: "ALL" },
    })),
  };
}
