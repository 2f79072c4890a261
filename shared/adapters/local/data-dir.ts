import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
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
