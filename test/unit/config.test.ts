import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, lambdaConfig, localConfigFromEnv } from "../../shared/config.ts";

describe("localConfigFromEnv", () => {
  it("uses the documented defaults", () => {
    const config = localConfigFromEnv({});
    expect(config).toMatchObject({ port: 8787, host: "127.0.0.1", logLevel: "info" });
    expect(config.storage).toEqual({ engine: "sqlite", synchronous: "normal" });
    expect(config.dataDir).toBe(resolve(".berth"));
    expect(config.app.bodyLimitBytes).toBe(1024 * 1024);
    expect(config.app.deviceAuthCacheSeconds).toBe(30);
  });

  it("picks the storage engine: a PostgreSQL URL, a DynamoDB table or endpoint, else SQLite", () => {
    expect(localConfigFromEnv({ BERTH_DATABASE_URL: "postgres://b:pw@db:5432/berth" }).storage).toEqual({
      engine: "postgres",
      url: "postgres://b:pw@db:5432/berth",
      poolSize: 10,
    });
    expect(localConfigFromEnv({}, { database: "postgresql://db/berth" }).storage.engine).toBe("postgres");
    expect(localConfigFromEnv({ AWS_REGION: "eu-west-1" }, { table: "berth-prod" }).storage).toEqual({
      engine: "dynamodb",
      table: "berth-prod",
      region: "eu-west-1",
    });
    expect(localConfigFromEnv({ BERTH_DYNAMODB_ENDPOINT: "http://127.0.0.1:8000" }).storage).toMatchObject({
      engine: "dynamodb",
      table: "berth",
      endpoint: "http://127.0.0.1:8000",
    });
  });

  it("refuses an unreadable BERTH_DATABASE_URL in one line that names it and does not echo it", () => {
    for (const url of ["not a url", "mysql://db/berth", "postgres://"]) {
      let message = "";
      try {
        localConfigFromEnv({ BERTH_DATABASE_URL: url });
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        message = (err as Error).message;
      }
      expect(message).toContain("BERTH_DATABASE_URL");
      expect(message).toContain("postgres://user:password@host:5432/berth");
      expect(message).not.toContain(url === "postgres://" ? "postgres:// " : url);
      expect(message.split("\n")).toHaveLength(1);
    }
  });

  it("reads PORT, HOST, BERTH_DATA_DIR and BERTH_LOG_LEVEL", () => {
    const config = localConfigFromEnv({
      PORT: "9000",
      HOST: "0.0.0.0",
      BERTH_DATA_DIR: "/var/lib/berth",
      BERTH_LOG_LEVEL: "warn",
    });
    expect(config).toMatchObject({
      port: 9000,
      host: "0.0.0.0",
      dataDir: "/var/lib/berth",
      logLevel: "warn",
    });
  });

  it("lets command-line overrides win over the environment", () => {
    expect(localConfigFromEnv({ PORT: "9000" }, { port: "9100" }).port).toBe(9100);
  });

  it("accepts port 0 (pick a free port)", () => {
    expect(localConfigFromEnv({ PORT: "0" }).port).toBe(0);
  });

  it.each([
    [{ PORT: "eighty" }, "PORT"],
    [{ PORT: "70000" }, "PORT"],
    [{ BERTH_LOG_LEVEL: "loud" }, "BERTH_LOG_LEVEL"],
    [{ BERTH_BODY_LIMIT_BYTES: "-1" }, "BERTH_BODY_LIMIT_BYTES"],
    // An agent's fetch gives up on an answer's headers after 300 s: a longer hold would be cut.
    [{ BERTH_POLL_WAIT_SECONDS: "300" }, "BERTH_POLL_WAIT_SECONDS"],
  ])("rejects %o naming the setting", (env, name) => {
    expect(() => localConfigFromEnv(env)).toThrow(ConfigError);
    expect(() => localConfigFromEnv(env)).toThrow(name);
  });
});

describe("lambdaConfig", () => {
  it("takes the table and secret from SST's links", () => {
    expect(lambdaConfig({ tableName: "berth-prod", serverSecret: "s", env: {} })).toMatchObject({
      tableName: "berth-prod",
      logLevel: "info",
    });
  });

  it("refuses an empty table name", () => {
    expect(() => lambdaConfig({ tableName: "", serverSecret: "s", env: {} })).toThrow(ConfigError);
  });
});

describe("cloud configuration", () => {
  const ecs = {
    AWS_REGION: "us-east-1",
    BERTH_ECS_CLUSTER: "berth-gpu",
    BERTH_ECS_TASK_DEFINITION: "berth-prod-job",
    BERTH_ECS_CAPACITY_PROVIDERS: "default=berth-l4, L4=berth-l4,A10G=berth-a10g",
  };

  it("is off without a cluster, and on with an ECS cluster (defaults filled in)", () => {
    expect(localConfigFromEnv({}).cloud).toMatchObject({ ecs: undefined, eks: undefined });
    expect(localConfigFromEnv(ecs).cloud).toMatchObject({
      region: "us-east-1",
      ecs: {
        cluster: "berth-gpu",
        taskDefinition: "berth-prod-job",
        container: "job",
        capacityProviders: { default: "berth-l4", L4: "berth-l4", A10G: "berth-a10g" },
        runTaskPerSecond: 10,
      },
      quietSeconds: 300,
      capacityRetries: 6,
    });
  });

  it.each([
    [{ ...ecs, BERTH_ECS_TASK_DEFINITION: "" }, "BERTH_ECS_TASK_DEFINITION"],
    [{ ...ecs, BERTH_ECS_CAPACITY_PROVIDERS: "" }, "BERTH_ECS_CAPACITY_PROVIDERS"],
    [{ ...ecs, AWS_REGION: "" }, "AWS_REGION"],
    [{ ...ecs, BERTH_CLOUD_LAUNCHER: "eks" }, "BERTH_CLOUD_LAUNCHER"],
    [{ ...ecs, BERTH_EKS_CLUSTER: "k", BERTH_EKS_ENDPOINT: "not a url" }, "BERTH_EKS_ENDPOINT"],
    [
      { ...ecs, BERTH_EKS_CLUSTER: "k", BERTH_EKS_ENDPOINT: "https://x", BERTH_EKS_NODE_SELECTORS: "[1]" },
      "BERTH_EKS_NODE_SELECTORS",
    ],
  ])("refuses an incomplete or invalid setup, naming the setting (%#)", (env, name) => {
    expect(() => localConfigFromEnv(env)).toThrow(ConfigError);
    expect(() => localConfigFromEnv(env)).toThrow(name);
  });

  it("reads an EKS cluster with JSON node selectors", () => {
    const config = localConfigFromEnv({
      ...ecs,
      BERTH_EKS_CLUSTER: "berth-eks",
      BERTH_EKS_ENDPOINT: "https://ABC.gr7.us-east-1.eks.amazonaws.com",
      BERTH_EKS_NODE_SELECTORS: '{"default": {"node.kubernetes.io/instance-type": "g6.xlarge"}}',
    });
    expect(config.cloud.eks).toMatchObject({
      namespace: "berth",
      nodeSelectors: { default: { "node.kubernetes.io/instance-type": "g6.xlarge" } },
      tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }],
    });
  });
});
