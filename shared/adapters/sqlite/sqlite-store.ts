import { Worker } from "node:worker_threads";
import Database from "better-sqlite3";
import type { Item, Key, QueryPage, Store, WriteOp } from "../../ports/store.ts";
import { checkTransaction, failedTransaction, keyOfOp, type Planned, planOp } from "../store/plan.ts";
import { COLUMNS, columnsOf, pageOfRows, querySql, SCAN_SQL } from "../store/sql.ts";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS items (
  pk TEXT NOT NULL,
  sk TEXT NOT NULL,
  gsi1pk TEXT,
  gsi1sk TEXT,
  gsi2pk TEXT,
  gsi2sk TEXT,
  ttl INTEGER,
  body TEXT NOT NULL,
  PRIMARY KEY (pk, sk)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS items_gsi1 ON items (gsi1pk, gsi1sk, pk, sk) WHERE gsi1pk IS NOT NULL;
CREATE INDEX IF NOT EXISTS items_gsi2 ON items (gsi2pk, gsi2sk, pk, sk) WHERE gsi2pk IS NOT NULL;
CREATE INDEX IF NOT EXISTS items_ttl ON items (ttl) WHERE ttl IS NOT NULL;
CREATE TABLE IF NOT EXISTS berth_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO berth_meta (name, value) VALUES ('schema', '1');
`;

export interface SqliteOptions {
  /**
   * `normal` (default): a commit survives the process being killed; a power cut may lose the last commits
   * (never corrupts). `full`: every commit is on disk before it is answered (an fsync each).
   */
  synchronous?: "normal" | "full";
}

/**
 * The embedded engine: SQLite through better-sqlite3, in this process, one file (WAL mode). Every call
 * runs synchronously inside one SQLite transaction, so a read-decide-write of one item or of many cannot
 * interleave with another in this process; `BEGIN IMMEDIATE` and a busy timeout keep a second process
 * (an export while the server runs) from breaking that.
 */
export function sqliteStore(path: string, opts: SqliteOptions = {}): Store {
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma(`synchronous = ${opts.synchronous === "full" ? "FULL" : "NORMAL"}`);
  db.pragma("busy_timeout = 5000");
  db.pragma("foreign_keys = OFF");
  db.exec(SCHEMA);
  // A checkpoint copies the WAL into the database and syncs it: milliseconds of disk I/O that would stall
  // every request behind it on this thread. A file database checkpoints in a worker thread instead.
  const checkpointer = path === ":memory:" ? undefined : startCheckpointer(path);
  if (checkpointer) db.pragma("wal_autocheckpoint = 0");

  const select = db.prepare<[string, string], { body: string }>(
    "SELECT body FROM items WHERE pk = ? AND sk = ?",
  );
  const upsert = db.prepare(
    `INSERT INTO items (${COLUMNS.join(", ")}, body) VALUES (${COLUMNS.map(() => "?").join(", ")}, ?)
     ON CONFLICT (pk, sk) DO UPDATE SET ${COLUMNS.filter((c) => c !== "pk" && c !== "sk")
       .map((c) => `${c} = excluded.${c}`)
       .join(", ")}, body = excluded.body`,
  );
  const remove = db.prepare("DELETE FROM items WHERE pk = ? AND sk = ?");
  const scan = db.prepare<[string, string, number], { body: string }>(SCAN_SQL);
  const expired = db.prepare("DELETE FROM items WHERE ttl IS NOT NULL AND ttl < ?");
  const queries = new Map<string, Database.Statement<unknown[], { body: string }>>();
  const requests = new Map<string, number>();
  const count = (op: string) => requests.set(op, (requests.get(op) ?? 0) + 1);

  const read = (key: Key): Item | undefined => {
    const row = select.get(key.pk, key.sk);
    return row ? (JSON.parse(row.body) as Item) : undefined;
  };
  const write = (key: Key, next: Item | undefined) => {
    if (next === undefined) remove.run(key.pk, key.sk);
    else upsert.run(...columnsOf(next), JSON.stringify(next));
  };
  /** Runs `fn` in one IMMEDIATE transaction (the write lock is taken before anything is read). */
  const atomically = <T>(fn: () => T): T => db.transaction(fn).immediate();
  const single = (op: WriteOp): Planned =>
    atomically(() => {
      const key = keyOfOp(op);
      const planned = planOp(op, read(key));
      if (planned.ok) write(key, planned.next);
      return planned;
    });

  return {
    describe: `sqlite ${path}`,
    requests,
    async get(key) {
      count("get");
      return read(key);
    },
    async getMany(keys) {
      count("getMany");
      return keys.map(read).filter((x): x is Item => x !== undefined);
    },
    async put(item, o) {
      count("put");
      const p = single({ put: item, if: o?.if });
      return p.ok ? { ok: true, item: p.next! } : p;
    },
    async update(key, changes, o) {
      count("update");
      const p = single({ update: key, changes, if: o?.if });
      return p.ok ? { ok: true, item: p.next! } : p;
    },
    async delete(key, o) {
      count("delete");
      const p = single({ delete: key, if: o?.if });
      return p.ok ? { ok: true, old: p.before } : p;
    },
    async query(input) {
      count("query");
      const { text, params } = querySql(input);
      let stmt = queries.get(text);
      if (!stmt) {
        stmt = db.prepare<unknown[], { body: string }>(text);
        queries.set(text, stmt);
      }
      const rows = stmt.all(...params);
      const items = rows.map((r) => JSON.parse(r.body) as Item);
      return pageOfRows(items, input.limit);
    },
    async transact(ops) {
      count("transact");
      checkTransaction(ops);
      return atomically(() => {
        const plans = ops.map((op) => planOp(op, read(keyOfOp(op))));
        const failed = plans.findIndex((p) => !p.ok);
        if (failed !== -1) return failedTransaction(failed, (plans[failed] as { current?: Item }).current);
        ops.forEach((op, i) => {
          if (!("check" in op)) write(keyOfOp(op), (plans[i] as { next: Item | undefined }).next);
        });
        return { ok: true as const };
      });
    },
    async scan(after, limit = 1000): Promise<QueryPage> {
      count("scan");
      const rows = scan.all(String(after?.pk ?? ""), String(after?.sk ?? ""), limit + 1);
      const items = rows.map((r) => JSON.parse(r.body) as Item);
      return pageOfRows(items, limit);
    },
    async collectGarbage(now) {
      return expired.run(now).changes;
    },
    async close() {
      await checkpointer?.stop();
      if (db.open) db.close();
    },
  };
}

/** Checkpoints the WAL of `path` every second from a worker thread with its own connection (PASSIVE: never blocks). */
function startCheckpointer(path: string) {
  const worker = new Worker(new URL("./checkpoint-worker.mjs", import.meta.url), { workerData: { path } });
  // A failing checkpointer only means a larger WAL until the next start; it must not crash the server.
  worker.on("error", (err) => console.error(`sqlite checkpointer failed: ${err.message}`));
  worker.unref();
  return {
    async stop() {
      const stopped = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
      worker.postMessage("stop");
      await Promise.race([stopped, new Promise((r) => setTimeout(r, 5000))]);
      await worker.terminate();
    },
  };
}
