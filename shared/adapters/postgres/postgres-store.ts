import pg from "pg";
import {
  type Broadcast,
  type Item,
  type Key,
  type QueryPage,
  StorageContentionError,
  StorageUnavailableError,
  type Store,
  type TransactResult,
  type WriteOp,
} from "../../ports/store.ts";
import { checkTransaction, failedTransaction, keyOfOp, type Planned, planOp } from "../store/plan.ts";
import { COLUMNS, columnsOf, pageOfRows, querySql, SCAN_SQL } from "../store/sql.ts";

const SCHEMA = `
CREATE SEQUENCE IF NOT EXISTS items_rev;
CREATE TABLE IF NOT EXISTS items (
  pk text COLLATE "C" NOT NULL,
  sk text COLLATE "C" NOT NULL,
  gsi1pk text COLLATE "C",
  gsi1sk text COLLATE "C",
  gsi2pk text COLLATE "C",
  gsi2sk text COLLATE "C",
  ttl bigint,
  rev bigint NOT NULL DEFAULT nextval('items_rev'),
  body text NOT NULL,
  PRIMARY KEY (pk, sk)
);
CREATE INDEX IF NOT EXISTS items_gsi1 ON items (gsi1pk, gsi1sk, pk, sk) WHERE gsi1pk IS NOT NULL;
CREATE INDEX IF NOT EXISTS items_gsi2 ON items (gsi2pk, gsi2sk, pk, sk) WHERE gsi2pk IS NOT NULL;
CREATE INDEX IF NOT EXISTS items_ttl ON items (ttl) WHERE ttl IS NOT NULL;
CREATE TABLE IF NOT EXISTS berth_meta (name text PRIMARY KEY, value text NOT NULL);
INSERT INTO berth_meta (name, value) VALUES ('schema', '1') ON CONFLICT DO NOTHING;
`;

/** Numbers `?` placeholders as PostgreSQL's `$1, $2, ...`. */
const numbered = (text: string) => {
  let n = 0;
  return text.replace(/\?/g, () => `$${++n}`);
};

const CHANNEL = "berth";
/** Held while the schema is created, so two servers starting at once do not collide. */
const SCHEMA_LOCK = 720_301;

/** SQLSTATE classes and codes that mean the database is not reachable now (not a bug in the request). */
function unavailable(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  const code = e.code ?? "";
  return (
    [
      "ECONNREFUSED",
      "ECONNRESET",
      "ENOTFOUND",
      "ETIMEDOUT",
      "EPIPE",
      "EAI_AGAIN",
      "57P01",
      "57P02",
      "57P03",
      "53300",
    ].includes(code) ||
    code.startsWith("08") ||
    /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|not queryable/i.test(
      e.message ?? "",
    )
  );
}

const names = new Map<string, string>();
/** A stable name per statement text (PostgreSQL caches the plan of a named statement per connection). */
function statementName(text: string): string {
  let name = names.get(text);
  if (!name) {
    name = `berth_${names.size}`;
    names.set(text, name);
  }
  return name;
}

const retryable = (err: unknown) =>
  ["40001", "40P01", "23505"].includes((err as { code?: string }).code ?? "");

export interface PostgresStore extends Store {
  broadcast: Broadcast;
}

/**
 * PostgreSQL, for several `berth server` processes on one database. Items live in one table (the same
 * item model as every engine), each as JSON text with its key, index and ttl attributes in columns, and a
 * row revision (from one sequence, so a row deleted and created again never has a revision it had before).
 * A single-item write reads the row, decides in TypeScript, and writes only if the revision is still the
 * one it read (retrying otherwise): two round trips, no lock held across them. A transaction
 * locks its rows (`FOR UPDATE`), decides, writes and commits; a row that another transaction inserted
 * meanwhile, a deadlock or a serialization failure retries it. Wake-ups cross processes through
 * LISTEN/NOTIFY on one dedicated connection (`broadcast`).
 */
export async function postgresStore(url: string, opts: { poolSize?: number } = {}): Promise<PostgresStore> {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.poolSize ?? 10,
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30_000,
    application_name: "berth",
    // A transaction's statements are sent without waiting for each answer (see transactOnce).
    pipeline: true,
  });
  // An idle connection the server closed (a restart): the pool drops it; nothing else to do.
  pool.on("error", () => {});
  const requests = new Map<string, number>();
  const count = (op: string) => requests.set(op, (requests.get(op) ?? 0) + 1);
  const where = url.replace(/\/\/[^@/]*@/, "//");

  const run = async <R extends pg.QueryResultRow>(
    client: pg.Pool | pg.PoolClient,
    text: string,
    params: unknown[] = [],
  ): Promise<pg.QueryResult<R>> => {
    try {
      // Named: each connection parses and plans a statement once, not on every call.
      return await client.query<R>({ name: statementName(text), text, values: params });
    } catch (err) {
      if (unavailable(err))
        throw new StorageUnavailableError(
          `PostgreSQL at ${where} is unavailable: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      throw err;
    }
  };
  const connect = async () => {
    try {
      return await pool.connect();
    } catch (err) {
      throw new StorageUnavailableError(`PostgreSQL at ${where} is unavailable: ${(err as Error).message}`, {
        cause: err,
      });
    }
  };

  {
    // The schema is several statements: a plain (not pipelined) connection of its own runs them.
    const setup = new pg.Client({
      connectionString: url,
      connectionTimeoutMillis: 5000,
      application_name: "berth",
    });
    setup.on("error", () => {});
    try {
      await setup.connect();
      await setup.query("SELECT pg_advisory_lock($1)", [SCHEMA_LOCK]);
      await setup.query(SCHEMA);
      await setup.query("SELECT pg_advisory_unlock($1)", [SCHEMA_LOCK]);
    } catch (err) {
      await pool.end().catch(() => {});
      if (unavailable(err))
        throw new StorageUnavailableError(
          `PostgreSQL at ${where} is unavailable: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      throw err;
    } finally {
      await setup.end().catch(() => {});
    }
  }

  const SELECT = "SELECT body, rev FROM items WHERE pk = $1 AND sk = $2";
  const INSERT = `INSERT INTO items (${COLUMNS.join(", ")}, body) VALUES (${COLUMNS.map((_, i) => `$${i + 1}`).join(", ")}, $${COLUMNS.length + 1})`;
  const UPDATE = `UPDATE items SET ${COLUMNS.slice(2)
    .map((c, i) => `${c} = $${i + 3}`)
    .join(", ")}, body = $${COLUMNS.length + 1}, rev = nextval('items_rev') WHERE pk = $1 AND sk = $2`;

  type Row = { body: string; rev: string };
  const parse = (row: Row | undefined) => (row ? (JSON.parse(row.body) as Item) : undefined);

  /** Writes `next` over a row at `rev` (undefined: the row must not exist). False when someone was first. */
  const writeIfUnchanged = async (
    client: pg.Pool | pg.PoolClient,
    key: Key,
    rev: string | undefined,
    next: Item | undefined,
  ): Promise<boolean> => {
    if (next === undefined) {
      if (rev === undefined) return true;
      return (
        (await run(client, "DELETE FROM items WHERE pk = $1 AND sk = $2 AND rev = $3", [key.pk, key.sk, rev]))
          .rowCount === 1
      );
    }
    const values = [...columnsOf(next), JSON.stringify(next)];
    if (rev === undefined) {
      return (await run(client, `${INSERT} ON CONFLICT (pk, sk) DO NOTHING`, values)).rowCount === 1;
    }
    return (await run(client, `${UPDATE} AND rev = $${COLUMNS.length + 2}`, [...values, rev])).rowCount === 1;
  };

  /** One item: read, decide, write if unchanged; again if another writer was first. */
  const single = async (op: WriteOp): Promise<Planned> => {
    const key = keyOfOp(op);
    for (let attempt = 0; attempt < 100; attempt++) {
      const row = (await run<Row>(pool, SELECT, [key.pk, key.sk])).rows[0];
      const planned = planOp(op, parse(row));
      if (!planned.ok) return planned;
      if (await writeIfUnchanged(pool, key, row?.rev, planned.next)) return planned;
    }
    throw new StorageContentionError(`${key.pk}/${key.sk} kept changing`);
  };

  /**
   * One attempt of a transaction, in two round trips on a pipelined connection: BEGIN with the SELECT that
   * locks the rows, then (the decision made here) the writes with the COMMIT. A write that fails (a row
   * another transaction created meanwhile) turns the COMMIT into a rollback; the caller tries again.
   */
  const transactOnce = async (ops: WriteOp[]): Promise<TransactResult> => {
    const client = await connect();
    try {
      const keys = ops.map(keyOfOp);
      const sorted = [...keys].sort((a, b) =>
        a.pk === b.pk ? (a.sk < b.sk ? -1 : 1) : a.pk < b.pk ? -1 : 1,
      );
      // Locked in key order, so two transactions over the same items cannot deadlock each other.
      const [, locked] = await Promise.all([
        run(client, "BEGIN"),
        run<Row & { pk: string; sk: string }>(
          client,
          `SELECT pk, sk, body, rev FROM items WHERE (pk, sk) IN (${sorted.map((_, i) => `($${2 * i + 1}, $${2 * i + 2})`).join(", ")}) ORDER BY pk, sk FOR UPDATE`,
          sorted.flatMap((k) => [k.pk, k.sk]),
        ),
      ]);
      const rows = new Map(locked.rows.map((r) => [`${r.pk}\u0000${r.sk}`, r]));
      const rowOf = (k: Key) => rows.get(`${k.pk}\u0000${k.sk}`);
      const plans = ops.map((op, i) => planOp(op, parse(rowOf(keys[i]!))));
      const failed = plans.findIndex((p) => !p.ok);
      if (failed !== -1) {
        await run(client, "ROLLBACK");
        return failedTransaction(failed, (plans[failed] as { current?: Item }).current);
      }
      const writes: Promise<unknown>[] = [];
      for (let i = 0; i < ops.length; i++) {
        if ("check" in ops[i]!) continue;
        const row = rowOf(keys[i]!);
        const next = (plans[i] as { next: Item | undefined }).next;
        if (next === undefined) {
          if (row)
            writes.push(
              run(client, "DELETE FROM items WHERE pk = $1 AND sk = $2", [keys[i]!.pk, keys[i]!.sk]),
            );
        } else {
          // A row that did not exist is inserted without ON CONFLICT: if another transaction created it
          // meanwhile, the unique violation rolls this one back and it is tried again.
          writes.push(run(client, row ? UPDATE : INSERT, [...columnsOf(next), JSON.stringify(next)]));
        }
      }
      const commit = run(client, "COMMIT");
      // Every statement is on the wire before any answer is awaited; all must settle before the client is
      // released (a failed write makes the COMMIT a rollback).
      const settled = await Promise.allSettled([...writes, commit]);
      const error = settled.find((r) => r.status === "rejected") as PromiseRejectedResult | undefined;
      if (error) throw error.reason;
      return { ok: true };
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  };

  // LISTEN on one connection of its own, reconnecting with backoff when it drops.
  const handlers = new Set<(topic: string, message: string) => void>();
  let listener: pg.Client | undefined;
  let closed = false;
  let reconnect: ReturnType<typeof setTimeout> | undefined;
  const listen = async (delay = 250) => {
    if (closed) return;
    // keepAlive: a half-open connection (a network cut, a failover) is noticed, not waited on forever.
    const client = new pg.Client({
      connectionString: url,
      application_name: "berth-listen",
      keepAlive: true,
    });
    client.on("notification", (n) => {
      const payload = n.payload ?? "";
      const tab = payload.indexOf("\t");
      for (const h of handlers) h(payload.slice(0, tab), payload.slice(tab + 1));
    });
    let retried = false;
    // Once per client: a drop during LISTEN both emits "error" and rejects the query.
    const retry = (next: number) => {
      if (retried) return;
      retried = true;
      client.removeAllListeners("error");
      client.on("error", () => {});
      client.end().catch(() => {});
      if (listener === client) listener = undefined;
      if (!closed) reconnect = setTimeout(() => void listen(next), delay);
    };
    client.on("error", () => retry(250));
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
      if (closed) {
        await client.end().catch(() => {});
        return;
      }
      listener = client;
      // Changes made while no one listened were not heard: tell the handlers to look again.
      for (const h of handlers) h("*", "reconnected");
    } catch {
      retry(Math.min(delay * 2, 5000));
    }
  };
  await listen();

  return {
    describe: `postgres ${where}`,
    requests,
    broadcast: {
      async publish(topic, message) {
        count("notify");
        await run(pool, "SELECT pg_notify($1, $2)", [CHANNEL, `${topic}\t${message}`]);
      },
      subscribe(handler) {
        handlers.add(handler);
        return () => handlers.delete(handler);
      },
    },
    async get(key) {
      count("get");
      return parse((await run<Row>(pool, SELECT, [key.pk, key.sk])).rows[0]);
    },
    async getMany(keys) {
      count("getMany");
      const found: Item[] = [];
      for (let i = 0; i < keys.length; i += 500) {
        const chunk = keys.slice(i, i + 500);
        const out = await run<Row>(
          pool,
          `SELECT body FROM items WHERE (pk, sk) IN (${chunk.map((_, j) => `($${2 * j + 1}, $${2 * j + 2})`).join(", ")})`,
          chunk.flatMap((k) => [k.pk, k.sk]),
        );
        for (const row of out.rows) found.push(parse(row)!);
      }
      return found;
    },
    async put(item, o) {
      count("put");
      const p = await single({ put: item, if: o?.if });
      return p.ok ? { ok: true, item: p.next! } : p;
    },
    async update(key, changes, o) {
      count("update");
      const p = await single({ update: key, changes, if: o?.if });
      return p.ok ? { ok: true, item: p.next! } : p;
    },
    async delete(key, o) {
      count("delete");
      const p = await single({ delete: key, if: o?.if });
      return p.ok ? { ok: true, old: p.before } : p;
    },
    async query(input): Promise<QueryPage> {
      count("query");
      const { text, params } = querySql(input);
      const items = (await run<Row>(pool, numbered(text), params)).rows.map((r) => parse(r)!);
      return pageOfRows(items, input.limit);
    },
    async transact(ops) {
      count("transact");
      checkTransaction(ops);
      for (let attempt = 0; ; attempt++) {
        try {
          return await transactOnce(ops);
        } catch (err) {
          if (!retryable(err)) throw err;
          if (attempt >= 20) throw new StorageContentionError("the items of a transaction kept changing");
          await new Promise((r) => setTimeout(r, Math.random() * 5 * 2 ** Math.min(attempt, 6)));
        }
      }
    },
    async scan(after, limit = 1000) {
      count("scan");
      const rows = (
        await run<Row>(pool, numbered(SCAN_SQL), [
          String(after?.pk ?? ""),
          String(after?.sk ?? ""),
          limit + 1,
        ])
      ).rows;
      const items = rows.map((r) => parse(r)!);
      return pageOfRows(items, limit);
    },
    async collectGarbage(now) {
      return (await run(pool, "DELETE FROM items WHERE ttl IS NOT NULL AND ttl < $1", [now])).rowCount ?? 0;
    },
    async close() {
      closed = true;
      if (reconnect) clearTimeout(reconnect);
      await listener?.end().catch(() => {});
      await pool.end();
    },
  };
}
