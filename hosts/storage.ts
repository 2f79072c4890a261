import { chmodSync, closeSync, openSync } from "node:fs";
import { join } from "node:path";
import { dynamoStore } from "../shared/adapters/dynamo/dynamo-store.ts";
import { postgresStore } from "../shared/adapters/postgres/postgres-store.ts";
import { sqliteStore } from "../shared/adapters/sqlite/sqlite-store.ts";
import type { StorageConfig } from "../shared/config.ts";
import type { Broadcast, Store } from "../shared/ports/store.ts";

/** A store opened for a host, with how its processes hear of each other's writes. */
export interface OpenedStorage {
  store: Store;
  /**
   * How writes by other processes reach waiting polls: `broadcast` (PostgreSQL LISTEN/NOTIFY), `check`
   * (DynamoDB: the shared change check queries the change index), `none` (SQLite: one process).
   */
  crossProcess: { kind: "broadcast"; bus: Broadcast } | { kind: "check" } | { kind: "none" };
  /** Whether this process must own the data dir alone (an embedded database file). */
  exclusive: boolean;
}

/** The SQLite database file in a data dir. */
export const sqlitePath = (dataDir: string) => join(dataDir, "berth.db");

/** Opens the configured engine (creating its schema or table when missing). */
export async function openStorage(config: StorageConfig, dataDir: string): Promise<OpenedStorage> {
  switch (config.engine) {
    case "sqlite": {
      // The database holds key hashes and the root secret: readable by its owner only (SQLite gives its
      // -wal and -shm files the same mode).
      const path = sqlitePath(dataDir);
      closeSync(openSync(path, "a", 0o600));
      chmodSync(path, 0o600);
      return {
        store: sqliteStore(path, { synchronous: config.synchronous }),
        crossProcess: { kind: "none" },
        exclusive: true,
      };
    }
    case "postgres": {
      const store = await postgresStore(config.url, { poolSize: config.poolSize });
      return { store, crossProcess: { kind: "broadcast", bus: store.broadcast }, exclusive: false };
    }
    case "dynamodb": {
      const store = dynamoStore(config.table, {
        endpoint: config.endpoint,
        region: config.region ?? (config.endpoint ? "us-east-1" : undefined),
        // A local endpoint (DynamoDB Local) takes any credentials; AWS uses the SDK's usual chain.
        ...(config.endpoint && !process.env.AWS_ACCESS_KEY_ID
          ? { credentials: { accessKeyId: "berthlocal", secretAccessKey: "berthlocal" } }
          : {}),
      });
      await store.ensureTable();
      return { store, crossProcess: { kind: "check" }, exclusive: false };
    }
  }
}
