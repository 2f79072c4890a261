import type { Db } from "../adapters/dynamo/client.ts";
import { dynamoRepositories } from "../adapters/dynamo/repositories.ts";
import type { AppConfig } from "../config.ts";
import { deriveKeys } from "../domain/secrets.ts";
import type { Clock } from "../ports/clock.ts";
import { systemClock } from "../ports/clock.ts";
import type { Logger } from "../ports/logger.ts";
import type { AppDeps } from "./deps.ts";

/** The app's dependencies on a DynamoDB table: shared by every host, so hosts differ only in where things are. */
export function buildAppDeps(input: {
  db: Db;
  serverSecret: string;
  logger: Logger;
  config: AppConfig;
  clock?: Clock;
}): AppDeps {
  return {
    repos: dynamoRepositories(input.db),
    clock: input.clock ?? systemClock,
    logger: input.logger,
    keys: deriveKeys(input.serverSecret),
    config: input.config,
    seenCache: new Map(),
  };
}
