import { TABLE_DEFINITION } from "../shared/adapters/dynamo/table";

/**
 * The single table: the same definition the local server creates. Point-in-time recovery on every stage (any
 * second of the last 35 days can be restored into a new table); deletion protection on protected stages
 * (sst.config.ts: production and prod by default), so neither a deploy nor a console click drops it.
 */
export const table = new sst.aws.Dynamo("Table", {
  fields: TABLE_DEFINITION.fields,
  primaryIndex: TABLE_DEFINITION.primaryIndex,
  globalIndexes: TABLE_DEFINITION.globalIndexes,
  ttl: TABLE_DEFINITION.ttl,
  deletionProtection: $app.protect,
  transform: {
    // SST enables it today; said here so that it stays so.
    table: (args) => {
      args.pointInTimeRecovery = { enabled: true };
    },
  },
});
