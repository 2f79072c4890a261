import { execFileSync, spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { freePort } from "./ports.ts";

/**
 * A PostgreSQL server for one test run: Debian's binaries (or any on the PATH), `initdb` into a temporary
 * directory and `pg_ctl start` on a free loopback port. `initdb` refuses to run as root, so as root the
 * cluster belongs to the `postgres` user (run through `runuser`). With BERTH_TEST_DATABASE_URL set, that
 * server is used instead and nothing is started.
 */
export interface TestPostgres {
  /** A server URL whose user may create databases. */
  url: string;
  stop(): Promise<void>;
  /** Stops the server process (fast shutdown: connections are cut) and starts it again on the same port. */
  pause?(): void;
  resume?(): void;
}

function binDir(): string | undefined {
  if (process.env.BERTH_TEST_PG_BIN) return process.env.BERTH_TEST_PG_BIN;
  const base = "/usr/lib/postgresql";
  if (existsSync(base)) {
    const versions = readdirSync(base)
      .filter((v) => existsSync(join(base, v, "bin", "initdb")))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return join(base, versions[0], "bin");
  }
  const which = spawnSync("sh", ["-c", "command -v initdb"], { encoding: "utf8" });
  const found = which.stdout.trim();
  return which.status === 0 && found ? join(found, "..") : undefined;
}

/** Why PostgreSQL cannot run here, or undefined when it can. */
export function postgresMissing(): string | undefined {
  if (process.env.BERTH_TEST_DATABASE_URL) return undefined;
  if (!binDir()) return "no PostgreSQL server binaries (initdb) found: install Debian's postgresql";
  if (process.getuid?.() === 0 && spawnSync("id", ["postgres"], { stdio: "ignore" }).status !== 0)
    return "running as root without a postgres user to own the test cluster";
  return undefined;
}

export async function startTestPostgres(): Promise<TestPostgres> {
  if (process.env.BERTH_TEST_DATABASE_URL) {
    return { url: process.env.BERTH_TEST_DATABASE_URL, stop: async () => {} };
  }
  const bin = binDir()!;
  const asRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), "berth-pg-"));
  const run = (cmd: string, args: string[]) => {
    const full = join(bin, cmd);
    return asRoot
      ? execFileSync("runuser", ["-u", "postgres", "--", full, ...args], { stdio: "pipe", cwd: dir })
      : execFileSync(full, args, { stdio: "pipe", cwd: dir });
  };
  if (asRoot) {
    const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
    chownSync(dir, uid, gid);
  }
  const data = join(dir, "data");
  run("initdb", ["-D", data, "-A", "trust", "-U", "berth", "--no-sync", "-E", "UTF8", "--locale=C"]);
  const port = await freePort();
  // fsync off: test data need not survive a power cut, and the run is faster on a busy machine.
  const start = () =>
    run("pg_ctl", [
      "-D",
      data,
      "-l",
      join(dir, "log"),
      "-w",
      "-t",
      "60",
      "-o",
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300`,
      "start",
    ]);
  start();
  return {
    url: `postgres://berth@127.0.0.1:${port}/postgres`,
    pause: () => run("pg_ctl", ["-D", data, "-m", "fast", "-w", "stop"]),
    resume: () => start(),
    async stop() {
      try {
        run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A new, empty database on the test server; returns its URL. */
export async function freshDatabase(serverUrl: string): Promise<string> {
  const name = `t_${Math.random().toString(36).slice(2, 12)}`;
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}
