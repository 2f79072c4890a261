import { dataPaths, ensureDataDir, lockDataDir } from "../shared/adapters/local/data-dir.ts";
import type { LocalConfig } from "../shared/config.ts";
import type { Store } from "../shared/ports/store.ts";
import { isOldDataDir, OldDataDirError } from "./local-server.ts";
import { openStorage } from "./storage.ts";

/**
 * The database of a self-hosted control plane, opened by an operator command (workspaces create, export,
 * import). An embedded SQLite database needs its server stopped (the data dir lock says so); PostgreSQL and
 * DynamoDB may be used while servers run.
 */
export async function openOperatorStore(
  config: LocalConfig,
  opts: { allowOldDataDir?: boolean } = {},
): Promise<{ store: Store; close(): Promise<void> }> {
  const dir = dataPaths(config.dataDir).dir;
  const sqlite = config.storage.engine === "sqlite";
  if (sqlite && !opts.allowOldDataDir && isOldDataDir(dir)) throw new OldDataDirError(dir);
  await ensureDataDir(dir);
  const unlock = sqlite
    ? await lockDataDir(dir).catch((err: Error) => {
        throw new Error(`${err.message.replace(/; stop it first$/, "")}; stop the server first`);
      })
    : async () => {};
  try {
    const { store } = await openStorage(config.storage, dir);
    return {
      store,
      async close() {
        await store.close();
        await unlock();
      },
    };
  } catch (err) {
    await unlock();
    throw err;
  }
}
