import type { AddressInfo } from "node:net";
import { Worker } from "node:worker_threads";
import dynalite from "dynalite";
import { startFauxqs } from "fauxqs";

/** A running embedded engine: where to reach it and how to stop it. */
export interface Engine {
  endpoint: string;
  stop(): Promise<void>;
}

/** Static credentials for the embedded engines (DynamoDB Local wants alphanumeric key ids). */
export const LOCAL_CREDENTIALS = { accessKeyId: "berthlocal", secretAccessKey: "berthlocal" };
export const LOCAL_REGION = "us-east-1";

/**
 * dynalite on a loopback port. With `path` it persists to LevelDB there (one process at a time:
 * LevelDB locks the directory); without, it is in memory (tests).
 */
export async function startDynalite(path?: string): Promise<Engine> {
  const server = dynalite({
    ...(path ? { path } : {}),
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

/**
 * dynalite in a worker thread of this process: the same engine and wire protocol as startDynalite,
 * on its own core, so the API's CPU and the table's CPU do not queue behind each other.
 */
export async function startDynaliteWorker(path?: string): Promise<Engine> {
  const worker = new Worker(new URL("./dynalite-worker.mjs", import.meta.url), { workerData: { path } });
  const port = await new Promise<number>((resolve, reject) => {
    worker.once("error", reject);
    worker.once("exit", (code) => reject(new Error(`dynalite worker exited with code ${code}`)));
    worker.once("message", (m: { port?: number; error?: string }) =>
      m.port ? resolve(m.port) : reject(new Error(m.error ?? "dynalite worker failed to start")),
    );
  });
  // After start-up, a failing engine must be reported, not crash the server through an unheard 'error'.
  worker.on("error", (err) => console.error(`dynalite worker failed: ${err.message}`));
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: async () => {
      const stopped = new Promise<void>((resolve) => worker.once("message", () => resolve()));
      worker.postMessage("stop");
      await Promise.race([stopped, new Promise((r) => setTimeout(r, 5000))]);
      await worker.terminate();
    },
  };
}

/** fauxqs (SQS wire protocol) in this process, in memory: queue messages are hints, not data. */
export async function startQueueEngine(): Promise<Engine> {
  const server = await startFauxqs({ port: 0, logger: false });
  return { endpoint: server.address, stop: () => server.stop() };
}
