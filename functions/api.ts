import { handle } from "hono/aws-lambda";
import { Resource } from "sst";
import { createDb } from "../shared/adapters/dynamo/client.ts";
import { jsonLogger } from "../shared/adapters/logger.ts";
import { buildAppDeps } from "../shared/app/build-deps.ts";
import { createApp } from "../shared/app/create-app.ts";
import { lambdaConfig } from "../shared/config.ts";

// Composition root of the API Lambda: the only place that reads Resource and process.env.
const config = lambdaConfig({
  tableName: Resource.Table.name,
  serverSecret: Resource.ServerSecret.value,
  env: process.env,
});
const app = createApp(
  buildAppDeps({
    db: createDb(config.tableName),
    serverSecret: config.serverSecret,
    logger: jsonLogger(config.logLevel),
    config: config.app,
  }),
);

export const handler = handle(app);
