import { resolve } from "node:path";
import { z } from "zod";

/**
 * Configuration, parsed once by each host's composition root from the environment it was given
 * (process.env locally, process.env + SST `Resource` on Lambda). Nothing else reads the environment.
 */

/** What the HTTP app itself needs, whatever hosts it. */
export const AppConfig = z.object({
  /** Request bodies above this are answered 413. */
  bodyLimitBytes: z.coerce
    .number()
    .int()
    .positive()
    .default(1024 * 1024),
  /** A device is online when seen within this many seconds. */
  deviceTtlSeconds: z.coerce.number().int().positive().default(90),
  /** The longest a poll waits, whatever the agent asks for. */
  pollWaitCapSeconds: z.coerce.number().int().min(0).max(900).default(25),
  /** After this, a gap in a feed counts as a crashed writer's and is stepped over. */
  feedGapSettleMs: z.coerce.number().int().positive().default(5000),
  version: z.string().default("0.1.0"),
});
export type AppConfig = z.infer<typeof AppConfig>;

const appEnv = (env: Record<string, string | undefined>) => ({
  bodyLimitBytes: env.BERTH_BODY_LIMIT_BYTES || undefined,
  deviceTtlSeconds: env.BERTH_DEVICE_TTL_SECONDS || undefined,
  pollWaitCapSeconds: env.BERTH_POLL_WAIT_SECONDS || undefined,
});

export const LogLevelSetting = z.enum(["debug", "info", "warn", "error", "silent"]).default("info");

/** The embedded local server (`npm start`, `berth server`). */
export const LocalConfig = z.object({
  dataDir: z.string().transform((p) => resolve(p)),
  port: z.coerce.number().int().min(0).max(65535).default(8787),
  host: z.string().min(1).default("127.0.0.1"),
  tableName: z.string().min(3).default("berth"),
  logLevel: LogLevelSetting,
  /** How often the embedded server runs the expiry sweeper. */
  sweepIntervalSeconds: z.coerce.number().int().positive().default(5),
  app: AppConfig,
});
export type LocalConfig = z.infer<typeof LocalConfig>;

/** Reads the local server's configuration from environment variables (and CLI overrides). */
export function localConfigFromEnv(
  env: Record<string, string | undefined>,
  overrides: Partial<Record<string, unknown>> = {},
) {
  const parsed = LocalConfig.safeParse({
    dataDir: env.BERTH_DATA_DIR || "./.berth",
    port: env.PORT || undefined,
    host: env.HOST || undefined,
    tableName: env.BERTH_TABLE_NAME || undefined,
    logLevel: env.BERTH_LOG_LEVEL || undefined,
    app: appEnv(env),
    ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)),
  });
  if (!parsed.success) throw new ConfigError(parsed.error);
  return parsed.data;
}

/** The API Lambda: SST links the table and the secret; the rest comes from its environment. */
export const LambdaConfig = z.object({
  tableName: z.string().min(1),
  serverSecret: z.string().min(1),
  logLevel: LogLevelSetting,
  app: AppConfig,
});
export type LambdaConfig = z.infer<typeof LambdaConfig>;

export function lambdaConfig(input: {
  tableName: string;
  serverSecret: string;
  env: Record<string, string | undefined>;
}) {
  const parsed = LambdaConfig.safeParse({
    tableName: input.tableName,
    serverSecret: input.serverSecret,
    logLevel: input.env.BERTH_LOG_LEVEL || undefined,
    app: appEnv(input.env),
  });
  if (!parsed.success) throw new ConfigError(parsed.error);
  return parsed.data;
}

/** A configuration value that does not parse: names the setting and what is wrong with it. */
export class ConfigError extends Error {
  constructor(error: z.ZodError) {
    super(
      `invalid configuration: ${error.issues
        .map((i) => `${SETTING_NAMES[i.path.join(".")] ?? i.path.join(".")}: ${i.message}`)
        .join("; ")}`,
    );
    this.name = "ConfigError";
  }
}

const SETTING_NAMES: Record<string, string> = {
  dataDir: "BERTH_DATA_DIR",
  port: "PORT",
  host: "HOST",
  tableName: "BERTH_TABLE_NAME",
  logLevel: "BERTH_LOG_LEVEL",
  "app.bodyLimitBytes": "BERTH_BODY_LIMIT_BYTES",
  "app.deviceTtlSeconds": "BERTH_DEVICE_TTL_SECONDS",
  "app.pollWaitCapSeconds": "BERTH_POLL_WAIT_SECONDS",
};
