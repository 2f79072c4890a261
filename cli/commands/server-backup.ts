import { once } from "node:events";
import { createWriteStream } from "node:fs";
import {
  type BackupError,
  fromVersion1,
  isEmpty,
  itemsOf,
  loadItems,
  readBackup,
  writeBackup,
} from "../../hosts/backup.ts";
import { openOperatorStore } from "../../hosts/operator.ts";
import type { Item } from "../../shared/ports/store.ts";
import type { GlobalOptions } from "../context.ts";
import { CliError } from "../errors.ts";
import { localConfig, type StorageOptions } from "../storage-options.ts";

const storageOf = (o: StorageOptions) => ({
  database: o.database,
  table: o.table,
  dynamodbEndpoint: o.dynamodbEndpoint,
  region: o.region,
});

/** `berth server export`: the whole database (or a Berth 0.1 dynalite data dir) as JSON lines. */
export async function exportItems(
  globals: GlobalOptions,
  o: StorageOptions & { file?: string; fromDynalite?: string; fromVersion1?: boolean },
) {
  const out = o.file ? createWriteStream(o.file, { mode: 0o600 }) : process.stdout;
  const write = async (line: string) => {
    if (!out.write(`${line}\n`)) await once(out, "drain");
  };
  let count: number;
  if (o.fromDynalite) {
    count = await exportDynalite(o.fromDynalite, write);
  } else {
    const { store, close } = await openOperatorStore(localConfig(globals, storageOf(o))).catch(
      (err: Error) => {
        throw new CliError(err.message);
      },
    );
    try {
      count = await writeBackup(o.fromVersion1 ? converted(itemsOf(store)) : itemsOf(store), write);
    } finally {
      await close();
    }
  }
  if (o.file) {
    out.end();
    await once(out, "finish");
  }
  process.stderr.write(`exported ${count} items${o.file ? ` to ${o.file}` : ""}\n`);
}

/** Items of a Berth 0.1 database, in this version's item model. */
async function* converted(items: AsyncIterable<Item>): AsyncGenerator<Item> {
  for await (const item of items) yield* fromVersion1(item);
}

/** `berth server import <file>`: loads an export into an empty database. */
export async function importItems(
  globals: GlobalOptions,
  file: string,
  o: StorageOptions & { force?: boolean },
) {
  const items = await readBackup(file).catch((err: BackupError | NodeJS.ErrnoException) => {
    throw new CliError(err.message, 2);
  });
  const { store, close } = await openOperatorStore(localConfig(globals, storageOf(o)), {
    allowOldDataDir: true,
  }).catch((err: Error) => {
    throw new CliError(err.message);
  });
  try {
    if (!o.force && !(await isEmpty(store))) {
      throw new CliError(
        `${store.describe} already has data; import into an empty database, or pass --force`,
        2,
      );
    }
    await loadItems(store, items);
    process.stderr.write(`imported ${items.length} items into ${store.describe}\n`);
  } finally {
    await close();
  }
}

/** Reads a Berth 0.1 data dir's table through dynalite (installed for the purpose: `npm install --no-save dynalite@4`). */
async function exportDynalite(path: string, write: (line: string) => Promise<void>): Promise<number> {
  let dynalite: (opts: object) => import("node:http").Server;
  try {
    dynalite = (await import(/* @vite-ignore */ "dynalite" as string)).default;
  } catch {
    throw new CliError(
      "reading a Berth 0.1 data dir needs dynalite: run `npm install --no-save dynalite@4` first",
      2,
    );
  }
  const server = dynalite({ path, createTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.address() as { port: number };
  const { DynamoDBClient } = await import("@aws-sdk/client-dynamodb");
  const { DynamoDBDocumentClient, ScanCommand } = await import("@aws-sdk/lib-dynamodb");
  const doc = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      endpoint: `http://127.0.0.1:${port}`,
      region: "us-east-1",
      credentials: { accessKeyId: "berthlocal", secretAccessKey: "berthlocal" },
    }),
  );
  try {
    async function* items(): AsyncGenerator<Item> {
      let start: Record<string, unknown> | undefined;
      do {
        const page = await doc.send(
          new ScanCommand({ TableName: process.env.BERTH_TABLE_NAME || "berth", ExclusiveStartKey: start }),
        );
        for (const item of page.Items ?? []) yield* fromVersion1(item);
        start = page.LastEvaluatedKey;
      } while (start);
    }
    return await writeBackup(items(), write);
  } finally {
    doc.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}
