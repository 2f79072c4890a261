import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, lambdaConfig, localConfigFromEnv } from "../../shared/config.ts";

describe("localConfigFromEnv", () => {
  it("uses the documented defaults", () => {
    const config = localConfigFromEnv({});
    expect(config).toMatchObject({ port: 8787, host: "127.0.0.1", tableName: "berth", logLevel: "info" });
    expect(config.dataDir).toBe(resolve(".berth"));
    expect(config.app.bodyLimitBytes).toBe(1024 * 1024);
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
