import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type LocalServer, startLocalServer } from "../hosts/local-server.ts";
import { silentLogger } from "../shared/adapters/logger.ts";
import { localConfigFromEnv } from "../shared/config.ts";

/** The embedded server on a fresh temporary data dir, for a benchmark; `done` stops it and removes the dir. */
export async function benchServer(
  name: string,
): Promise<{ server: LocalServer; admin: string; done(): Promise<void> }> {
  const dataDir = join(tmpdir(), `berth-bench-${name}-${process.pid}`);
  await rm(dataDir, { recursive: true, force: true });
  const server = await startLocalServer(
    localConfigFromEnv({ BERTH_DATA_DIR: dataDir, PORT: "0" }),
    silentLogger,
  );
  return {
    server,
    admin: server.newAdminKey!,
    async done() {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export async function postJson(url: string, body: unknown, token?: string) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}
