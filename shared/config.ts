import { resolve } from "node:path";
import { z } from "zod";
import { QUEUE_DEFINITIONS } from "./contracts/queues.ts";
import { LAUNCHERS } from "./domain/cloud-reservation.ts";
import { hashToken } from "./domain/tokens.ts";
import { BERTH_VERSION } from "./version.ts";

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
  /**
   * How long a running job's device may be silent, while the control plane is up, before the job is lost
   * (a job's `disconnect.lostAfterSeconds` overrides it). Silence during an outage of the control plane
   * does not count.
   */
  lostAfterSeconds: z.coerce.number().int().min(10).max(2_592_000).default(3600),
  /**
   * The longest a poll waits, whatever the agent asks for. At most 280 s: an HTTP client waits 300 s for an
   * answer's headers by default (Node's fetch, which the agent uses), and a longer hold would be cut there.
   */
  pollWaitCapSeconds: z.coerce.number().int().min(0).max(280).default(25),
  /**
   * `hold`: a poll waits (up to pollWaitCapSeconds) for something to deliver; `short`: it answers at once and
   * tells the agent to come back in `shortPollSeconds` (the cheapest Lambda hosting, at the price of latency).
   */
  pollMode: z.enum(["hold", "short"]).default("hold"),
  shortPollSeconds: z.coerce.number().int().min(1).max(300).default(15),
  /**
   * Where agents and followers should talk to, when that is not this host (AWS: the agent function or the
   * long-running service). Given to agents at login; follow requests to a host that cannot stream are sent
   * there.
   */
  agentEndpoint: z.url({ protocol: /^https?$/ }).optional(),
  /**
   * How this host serves follow requests (`?follow=true`). `stream`: one response for as long as it takes.
   * `redirect`: this host cannot hold a stream (a buffering Lambda), so they are answered 307 to
   * `agentEndpoint`, which can. `window`: a bounded long-poll for hosts that buffer and have nowhere to send
   * them: each response ends about a second after it has something to say, or after `followWindowSeconds`,
   * with a `continue` event; the follower comes back at once from its cursor.
   */
  followMode: z.enum(["stream", "redirect", "window"]).default("stream"),
  followWindowSeconds: z.coerce.number().int().min(1).max(900).default(20),
  /**
   * A KMS key (id, ARN or alias) that wraps workspaces' data keys for secrets; without it they are wrapped by a
   * key derived from the server secret. AWS stages create one (infra/secrets.ts).
   */
  kmsKeyId: z.string().min(1).max(2048).optional(),
  /**
   * How often the shared change check looks for feed writes by other processes while polls wait (DynamoDB;
   * one query per shard each time, whatever the number of waiting polls). It bounds cross-process delivery.
   */
  changeCheckMs: z.coerce.number().int().min(50).max(10_000).default(1000),
  /** After this, a gap in a feed counts as a crashed writer's and is stepped over. */
  feedGapSettleMs: z.coerce.number().int().positive().default(5000),
  /**
   * How long a process may answer an agent from its memory of a verified session token (0: never). Bounds
   * how long a revoked token keeps working in another process that did not hear of the revocation.
   */
  deviceAuthCacheSeconds: z.coerce.number().int().min(0).max(300).default(30),
  /**
   * How often a follow stream (job output, job events) sends an SSE comment while it has nothing else to
   * send, so proxies and clients do not take a quiet stream for a dead one. Tests use a short one.
   */
  followKeepAliveMs: z.coerce.number().int().min(10).max(300_000).default(15_000),
  version: z.string().default(BERTH_VERSION),
  /**
   * The oldest agent protocol accepted at login and poll. 1 (the default until Berth 0.4) lets agents before
   * 0.2 and GPUd in; 2 requires signing v2 (Berth's agent 0.2 or later).
   */
  minAgentProtocol: z.coerce.number().int().min(1).max(2).default(1),
  /**
   * The operator's credential for the process-wide view of `GET /api/v1/metrics` (every workspace's
   * counters, memory); kept only as its hash. Unset: no process-wide view over HTTP.
   */
  operatorTokenHash: z
    .string()
    .min(32, "use at least 32 random characters, e.g. $(openssl rand -hex 32)")
    .transform(hashToken)
    .optional(),
});
export type AppConfig = z.infer<typeof AppConfig>;

const appEnv = (env: Record<string, string | undefined>) => ({
  bodyLimitBytes: env.BERTH_BODY_LIMIT_BYTES || undefined,
  deviceTtlSeconds: env.BERTH_DEVICE_TTL_SECONDS || undefined,
  lostAfterSeconds: env.BERTH_LOST_AFTER_SECONDS || undefined,
  pollWaitCapSeconds: env.BERTH_POLL_WAIT_SECONDS || undefined,
  pollMode: env.BERTH_POLL_MODE || undefined,
  shortPollSeconds: env.BERTH_SHORT_POLL_SECONDS || undefined,
  agentEndpoint: env.BERTH_AGENT_ENDPOINT || undefined,
  followMode: env.BERTH_FOLLOW_MODE || undefined,
  followWindowSeconds: env.BERTH_FOLLOW_WINDOW_SECONDS || undefined,
  kmsKeyId: env.BERTH_KMS_KEY_ID || undefined,
  changeCheckMs: env.BERTH_CHANGE_CHECK_MS || undefined,
  followKeepAliveMs: env.BERTH_FOLLOW_KEEPALIVE_MS || undefined,
  deviceAuthCacheSeconds: env.BERTH_DEVICE_AUTH_CACHE_SECONDS || undefined,
  operatorTokenHash: env.BERTH_OPERATOR_TOKEN || undefined,
  minAgentProtocol: env.BERTH_MIN_AGENT_PROTOCOL || undefined,
});

/** `a=x,b=y` (or a JSON object) as a record of strings. */
const pairs = z.preprocess(
  (v) => {
    if (typeof v !== "string") return v;
    const text = v.trim();
    if (text.startsWith("{")) {
      try {
        return JSON.parse(text);
      } catch {
        return text;
      }
    }
    return Object.fromEntries(
      text
        .split(",")
        .filter(Boolean)
        .map((p) => {
          const eq = p.indexOf("=");
          return eq === -1 ? [p.trim(), ""] : [p.slice(0, eq).trim(), p.slice(eq + 1).trim()];
        }),
    );
  },
  z.record(z.string(), z.string().min(1, "needs a value (name=value)")),
);

/** A setting that holds JSON text, parsed before `schema` (text that is not JSON is left for it to refuse). */
export const json = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => {
    if (typeof v !== "string") return v;
    try {
      return JSON.parse(v);
    } catch {
      return v;
    }
  }, schema);

/** ECS on EC2 GPU capacity (the infra's GPU cluster, or any cluster you point it at). */
export const EcsConfig = z.object({
  cluster: z.string().min(1),
  taskDefinition: z.string({ error: "required with BERTH_ECS_CLUSTER (the base task definition)" }).min(1),
  container: z.string().min(1).default("job"),
  capacityProviders: pairs.refine((r) => Object.keys(r).length > 0, {
    message:
      "required with BERTH_ECS_CLUSTER: GPU family=capacity provider, e.g. default=berth-g6,L4=berth-g6",
  }),
  logGroup: z.string().min(1).optional(),
  logStreamPrefix: z.string().min(1).default("berth"),
  runTaskPerSecond: z.coerce.number().positive().default(10),
  runTaskBurst: z.coerce.number().int().positive().default(20),
});

/** Kubernetes Jobs on EKS. */
export const EksConfig = z.object({
  cluster: z.string().min(1),
  endpoint: z.url({ error: "required with BERTH_EKS_CLUSTER: the API server URL" }),
  caData: z.string().min(1).optional(),
  namespace: z.string().min(1).default("berth"),
  defaultImage: z.string().min(1).default("nvidia/cuda:12.4.1-base-ubuntu22.04"),
  nodeSelectors: json(z.record(z.string(), z.record(z.string(), z.string()))).default({ default: {} }),
  tolerations: json(
    z.array(
      z.object({
        key: z.string().optional(),
        operator: z.string().optional(),
        value: z.string().optional(),
        effect: z.string().optional(),
      }),
    ),
  ).default([{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }]),
  ttlSecondsAfterFinished: z.coerce.number().int().positive().default(3600),
});

/** Cloud capacity: configured when an ECS cluster or an EKS cluster is given. */
export const CloudConfig = z
  .object({
    region: z.string().min(1).optional(),
    defaultLauncher: z.enum(LAUNCHERS).optional(),
    ecs: EcsConfig.optional(),
    eks: EksConfig.optional(),
    requeueAfterSeconds: z.coerce.number().int().positive().default(60),
    quietSeconds: z.coerce.number().int().positive().default(300),
    capacityRetries: z.coerce.number().int().min(0).default(6),
    capacityRetryBaseSeconds: z.coerce.number().int().positive().default(30),
    maxReceives: z.number().int().positive().default(QUEUE_DEFINITIONS.provision.maxReceiveCount),
  })
  .refine((c) => !c.defaultLauncher || c[c.defaultLauncher], {
    message: "names a launcher that is not configured",
    path: ["defaultLauncher"],
  })
  .refine((c) => !(c.ecs || c.eks) || c.region, {
    message: "required with BERTH_ECS_CLUSTER or BERTH_EKS_CLUSTER",
    path: ["region"],
  });
export type CloudConfig = z.infer<typeof CloudConfig>;

const cloudEnv = (env: Record<string, string | undefined>) => ({
  region: env.AWS_REGION || env.AWS_DEFAULT_REGION || undefined,
  defaultLauncher: env.BERTH_CLOUD_LAUNCHER || undefined,
  ecs: env.BERTH_ECS_CLUSTER
    ? {
        cluster: env.BERTH_ECS_CLUSTER,
        taskDefinition: env.BERTH_ECS_TASK_DEFINITION || undefined,
        container: env.BERTH_ECS_CONTAINER || undefined,
        capacityProviders: env.BERTH_ECS_CAPACITY_PROVIDERS ?? "",
        logGroup: env.BERTH_ECS_LOG_GROUP || undefined,
        logStreamPrefix: env.BERTH_ECS_LOG_STREAM_PREFIX || undefined,
        runTaskPerSecond: env.BERTH_ECS_RUN_TASK_RATE || undefined,
        runTaskBurst: env.BERTH_ECS_RUN_TASK_BURST || undefined,
      }
    : undefined,
  eks: env.BERTH_EKS_CLUSTER
    ? {
        cluster: env.BERTH_EKS_CLUSTER,
        endpoint: env.BERTH_EKS_ENDPOINT || undefined,
        caData: env.BERTH_EKS_CA || undefined,
        namespace: env.BERTH_EKS_NAMESPACE || undefined,
        defaultImage: env.BERTH_EKS_IMAGE || undefined,
        nodeSelectors: env.BERTH_EKS_NODE_SELECTORS || undefined,
        tolerations: env.BERTH_EKS_TOLERATIONS || undefined,
      }
    : undefined,
  requeueAfterSeconds: env.BERTH_CLOUD_REQUEUE_SECONDS || undefined,
  quietSeconds: env.BERTH_CLOUD_QUIET_SECONDS || undefined,
  capacityRetries: env.BERTH_CLOUD_CAPACITY_RETRIES || undefined,
  capacityRetryBaseSeconds: env.BERTH_CLOUD_RETRY_BASE_SECONDS || undefined,
});

/** Whether cloud capacity is configured at all. */
export const cloudConfigured = (c: CloudConfig) => c.ecs !== undefined || c.eks !== undefined;

export const LogLevelSetting = z.enum(["debug", "info", "warn", "error", "silent"]).default("info");

/** A PostgreSQL connection URL: postgres:// or postgresql://, with a host. */
const PostgresUrl = z.string().refine(
  (v) => {
    try {
      const u = new URL(v);
      return (u.protocol === "postgres:" || u.protocol === "postgresql:") && u.hostname !== "";
    } catch {
      return false;
    }
  },
  { message: "must be a URL like postgres://user:password@host:5432/berth" },
);

/**
 * Where `berth server` keeps its data: SQLite in the data dir (the default: nothing to install), one
 * PostgreSQL database (several servers share it), or a DynamoDB table (AWS, or any DynamoDB endpoint).
 */
export const StorageConfig = z.discriminatedUnion("engine", [
  z.object({ engine: z.literal("sqlite"), synchronous: z.enum(["normal", "full"]).default("normal") }),
  z.object({
    engine: z.literal("postgres"),
    url: PostgresUrl,
    poolSize: z.coerce.number().int().min(1).max(200).default(10),
  }),
  z.object({
    engine: z.literal("dynamodb"),
    table: z.string().min(3),
    endpoint: z.url().optional(),
    region: z.string().min(1).optional(),
  }),
]);
export type StorageConfig = z.infer<typeof StorageConfig>;

/** The embedded local server (`npm start`, `berth server`). */
export const LocalConfig = z.object({
  dataDir: z.string().transform((p) => resolve(p)),
  port: z.coerce.number().int().min(0).max(65535).default(8787),
  host: z.string().min(1).default("127.0.0.1"),
  storage: StorageConfig,
  logLevel: LogLevelSetting,
  /** How often the embedded server runs the expiry sweeper. */
  sweepIntervalSeconds: z.coerce.number().int().positive().default(5),
  app: AppConfig,
  cloud: CloudConfig,
});
export type LocalConfig = z.infer<typeof LocalConfig>;

/** Reads the local server's configuration from environment variables (and CLI overrides). */
export function localConfigFromEnv(
  env: Record<string, string | undefined>,
  overrides: Partial<Record<string, unknown>> = {},
) {
  const o = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  const database = (o.database as string | undefined) ?? (env.BERTH_DATABASE_URL || undefined);
  const table = (o.table as string | undefined) ?? (env.BERTH_TABLE_NAME || undefined);
  const endpoint = (o.dynamodbEndpoint as string | undefined) ?? (env.BERTH_DYNAMODB_ENDPOINT || undefined);
  const storage = database
    ? { engine: "postgres", url: database, poolSize: env.BERTH_DATABASE_POOL_SIZE || undefined }
    : table || endpoint
      ? {
          engine: "dynamodb",
          table: table ?? "berth",
          endpoint,
          region: (o.region as string | undefined) ?? (env.AWS_REGION || env.AWS_DEFAULT_REGION || undefined),
        }
      : { engine: "sqlite", synchronous: env.BERTH_SQLITE_SYNC || undefined };
  delete o.database;
  delete o.table;
  delete o.dynamodbEndpoint;
  delete o.region;
  const parsed = LocalConfig.safeParse({
    dataDir: env.BERTH_DATA_DIR || "./.berth",
    port: env.PORT || undefined,
    host: env.HOST || undefined,
    storage,
    logLevel: env.BERTH_LOG_LEVEL || undefined,
    app: appEnv(env),
    cloud: cloudEnv(env),
    ...o,
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
  cloud: CloudConfig,
});
export type LambdaConfig = z.infer<typeof LambdaConfig>;

/**
 * `env` carries the function's environment plus what SST links (the GPU cluster's names, as the same
 * BERTH_ECS_* settings the local server reads).
 */
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
    cloud: cloudEnv(input.env),
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
  "storage.url": "BERTH_DATABASE_URL (--database)",
  "storage.poolSize": "BERTH_DATABASE_POOL_SIZE",
  "storage.table": "BERTH_TABLE_NAME (--table)",
  "storage.endpoint": "BERTH_DYNAMODB_ENDPOINT (--dynamodb-endpoint)",
  "storage.region": "AWS_REGION (--region)",
  "storage.synchronous": "BERTH_SQLITE_SYNC",
  "app.deviceAuthCacheSeconds": "BERTH_DEVICE_AUTH_CACHE_SECONDS",
  logLevel: "BERTH_LOG_LEVEL",
  "app.bodyLimitBytes": "BERTH_BODY_LIMIT_BYTES",
  "app.deviceTtlSeconds": "BERTH_DEVICE_TTL_SECONDS",
  "app.lostAfterSeconds": "BERTH_LOST_AFTER_SECONDS",
  "app.pollWaitCapSeconds": "BERTH_POLL_WAIT_SECONDS",
  "app.pollMode": "BERTH_POLL_MODE",
  "app.shortPollSeconds": "BERTH_SHORT_POLL_SECONDS",
  "app.agentEndpoint": "BERTH_AGENT_ENDPOINT",
  "app.followMode": "BERTH_FOLLOW_MODE",
  "app.followWindowSeconds": "BERTH_FOLLOW_WINDOW_SECONDS",
  "app.kmsKeyId": "BERTH_KMS_KEY_ID",
  "app.changeCheckMs": "BERTH_CHANGE_CHECK_MS",
  "app.followKeepAliveMs": "BERTH_FOLLOW_KEEPALIVE_MS",
  "app.operatorTokenHash": "BERTH_OPERATOR_TOKEN",
  "app.minAgentProtocol": "BERTH_MIN_AGENT_PROTOCOL",
  "cloud.region": "AWS_REGION",
  "cloud.defaultLauncher": "BERTH_CLOUD_LAUNCHER",
  "cloud.ecs.taskDefinition": "BERTH_ECS_TASK_DEFINITION",
  "cloud.ecs.capacityProviders": "BERTH_ECS_CAPACITY_PROVIDERS",
  "cloud.ecs.runTaskPerSecond": "BERTH_ECS_RUN_TASK_RATE",
  "cloud.ecs.runTaskBurst": "BERTH_ECS_RUN_TASK_BURST",
  "cloud.eks.endpoint": "BERTH_EKS_ENDPOINT",
  "cloud.eks.nodeSelectors": "BERTH_EKS_NODE_SELECTORS",
  "cloud.eks.tolerations": "BERTH_EKS_TOLERATIONS",
  "cloud.requeueAfterSeconds": "BERTH_CLOUD_REQUEUE_SECONDS",
  "cloud.quietSeconds": "BERTH_CLOUD_QUIET_SECONDS",
  "cloud.capacityRetries": "BERTH_CLOUD_CAPACITY_RETRIES",
  "cloud.capacityRetryBaseSeconds": "BERTH_CLOUD_RETRY_BASE_SECONDS",
};
