import type { Command } from "commander";
import { ConfigError, type LocalConfig, localConfigFromEnv } from "../shared/config.ts";
import type { GlobalOptions } from "./context.ts";
import { CliError } from "./errors.ts";

/** The storage flags `berth server` and the operator commands share. */
export interface StorageOptions {
  database?: string;
  dynamodbEndpoint?: string;
  table?: string;
  region?: string;
}

export function storageOptions(cmd: Command): Command {
  return cmd
    .option("--database <url>", "PostgreSQL URL, shared by several servers (env BERTH_DATABASE_URL)")
    .option(
      "--table <name>",
      "a DynamoDB table (env BERTH_TABLE_NAME); with AWS credentials from the SDK's chain",
    )
    .option("--dynamodb-endpoint <url>", "a DynamoDB-compatible endpoint (env BERTH_DYNAMODB_ENDPOINT)")
    .option("--region <region>", "AWS region of --table (env AWS_REGION)");
}

/** The local configuration from the environment and flags; a bad setting is one line and exit 2. */
export function localConfig(
  globals: GlobalOptions,
  o: StorageOptions & Record<string, unknown>,
  env: Record<string, string | undefined> = process.env,
): LocalConfig {
  try {
    return localConfigFromEnv(env, {
      ...o,
      dataDir: globals.dataDir,
    });
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message, 2);
    throw err;
  }
}
