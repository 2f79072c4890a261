import { chmod, mkdir, readFile, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { newServerSecret } from "../../domain/secrets.ts";

/**
 * The local data directory: everything `npm start` keeps lives here.
 *   dynamo/         dynalite's LevelDB files (the table)
 *   server-secret   root secret for page tokens, session tokens, signing keys (0600)
 *   admin-key       the admin API key printed on first start (0600), read by the CLI
 */
export const dataPaths = (dir: string) => ({
  dir,
  dynamo: join(dir, "dynamo"),
  serverSecret: join(dir, "server-secret"),
  adminKey: join(dir, "admin-key"),
  /** The URL the server listens on, written at each start, read by the CLI run beside it. */
  endpoint: join(dir, "endpoint"),
});

export async function ensureDataDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
}

/** Writes a file readable only by its owner (mode applies on create, chmod covers an existing file). */
export async function writePrivateFile(path: string, content: string): Promise<void> {
  await writeFile(path, content, { mode: 0o600 });
  await chmod(path, 0o600);
}

export async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, "utf8")).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/** The server secret, generated on first start. Losing it invalidates page and session tokens. */
export async function loadOrCreateServerSecret(path: string): Promise<string> {
  const existing = await readIfExists(path);
  if (existing) return existing;
  const secret = newServerSecret();
  // `wx`: two processes starting at once must not each write a different secret.
  try {
    await writeFile(path, `${secret}\n`, { mode: 0o600, flag: "wx" });
    return secret;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return (await readIfExists(path))!;
    throw err;
  }
}

/** Another live process holds the data dir. */
export class DataDirBusyError extends Error {
  constructor(dir: string, pid: number) {
    super(`the data dir ${dir} is in use by process ${pid} (a berth server?); stop it first`);
    this.name = "DataDirBusyError";
  }
}

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
};

/**
 * Takes the data dir for this process (`<dir>/lock` holds the pid), so that a second server or an
 * operator command fails with a clear message instead of fighting over dynalite's LevelDB files.
 * A lock left by a process that no longer runs (killed with SIGKILL) is taken over. Returns the release.
 */
export async function lockDataDir(dir: string): Promise<() => Promise<void>> {
  const path = join(dir, "lock");
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      // `wx`: of two processes starting at once, exactly one creates the lock.
      await writeFile(path, `${process.pid}\n`, { flag: "wx", mode: 0o600 });
      return async () => {
        if ((await readIfExists(path)) === String(process.pid)) await unlink(path).catch(() => {});
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const holder = Number(await readIfExists(path));
    if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
      throw new DataDirBusyError(dir, holder);
    }
    await unlink(path).catch(() => {});
  }
  throw new Error(`could not take the lock ${path}`);
}
