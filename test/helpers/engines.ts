import { spawnSync } from "node:child_process";
import { describe, inject, it } from "vitest";
import { dynamoStore } from "../../shared/adapters/dynamo/dynamo-store.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../shared/adapters/local/engines.ts";
import { postgresStore } from "../../shared/adapters/postgres/postgres-store.ts";
import { sqliteStore } from "../../shared/adapters/sqlite/sqlite-store.ts";
import { newId } from "../../shared/domain/ids.ts";
import type { Store } from "../../shared/ports/store.ts";
import { sharedDynamoDbLocal } from "./dynamodb-local.ts";
import { freshDatabase } from "./postgres.ts";

/** The three storage engines every contract test runs on. */
export const ENGINES = ["sqlite", "postgres", "dynamodb"] as const;
export type EngineName = (typeof ENGINES)[number];

export const hasJava = (): boolean => spawnSync("java", ["-version"], { stdio: "ignore" }).status === 0;

/** Why an engine cannot run in this test run, or undefined when it can. */
export function engineMissing(name: EngineName): string | undefined {
  if (name === "sqlite") return undefined;
  if (name === "postgres") return inject("postgres").url ? undefined : inject("postgres").missing;
  return hasJava() ? undefined : "java not found (DynamoDB Local needs a JRE)";
}

/**
 * Declares `body` for each engine that can run here. An engine that cannot is reported as skipped with the
 * reason on a developer machine, and fails in CI (CI=true), where every engine must run.
 */
export function forEachEngine(title: string, body: (engine: EngineName) => void) {
  for (const engine of ENGINES) onEngine(engine, title, () => body(engine));
}

/** Declares `body` on one engine: skipped with the reason where it cannot run, failing in CI. */
export function onEngine(engine: EngineName, title: string, body: () => void) {
  {
    const missing = engineMissing(engine);
    if (!missing) {
      describe(`${title} on ${engine}`, body);
    } else if (process.env.CI === "true") {
      describe(`${title} on ${engine}`, () => {
        it(`needs ${engine} in CI (.ci/run installs it)`, () => {
          throw new Error(`${engine} cannot run: ${missing}`);
        });
      });
    } else {
      console.warn(`[engines] skipping "${title}" on ${engine}: ${missing}`);
      describe.skip(`${title} on ${engine} (skipped: ${missing})`, () => {
        it("runs when the engine is present", () => {});
      });
    }
  }
}

/** A fresh, empty store on an engine: an in-memory SQLite, a new PostgreSQL database, a new table. */
export async function openStore(engine: EngineName): Promise<Store> {
  if (engine === "sqlite") return sqliteStore(":memory:");
  if (engine === "postgres") return postgresStore(await freshDatabase(inject("postgres").url!));
  const { endpoint } = await sharedDynamoDbLocal();
  const store = dynamoStore(`t-${newId()}`, {
    endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  await store.ensureTable();
  return store;
}
