import { Resource } from "sst";
import { createDb } from "../shared/adapters/dynamo/client.ts";
import { jsonLogger } from "../shared/adapters/logger.ts";
import { buildAppDeps } from "../shared/app/build-deps.ts";
import { lambdaConfig } from "../shared/config.ts";

/**
 * Composition root of every Lambda: the only place that reads SST's `Resource` and `process.env`.
 * Built once per container (at cold start) and reused by every invocation.
 */
export function lambdaDeps() {
  const config = lambdaConfig({
    tableName: Resource.Table.name,
    serverSecret: Resource.ServerSecret.value,
    env: process.env,
  });
  return buildAppDeps({
    db: createDb(config.tableName),
    serverSecret: config.serverSecret,
    logger: jsonLogger(config.logLevel),
    config: config.app,
  });
}
