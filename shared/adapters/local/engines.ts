import type { AddressInfo } from "node:net";
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

/** fauxqs (SQS wire protocol) in this process, in memory: queue messages are hints, not data. */
export async function startQueueEngine(): Promise<Engine> {
  const server = await startFauxqs({ port: 0, logger: false });
  return { endpoint: server.address, stop: () => server.stop() };
}
