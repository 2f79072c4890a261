import { TABLE_DEFINITION } from "../shared/adapters/dynamo/table";

/** The single table: the same definition the local server creates in dynalite. */
export const table = new sst.aws.Dynamo("Table", {
  fields: TABLE_DEFINITION.fields,
  primaryIndex: TABLE_DEFINITION.primaryIndex,
  globalIndexes: TABLE_DEFINITION.globalIndexes,
  ttl: TABLE_DEFINITION.ttl,
});
