import { startFauxqs } from "fauxqs";

/** A running embedded engine: where to reach it and how to stop it. */
export interface Engine {
  endpoint: string;
  stop(): Promise<void>;
}

/** Static credentials for the embedded engines (DynamoDB Local wants alphanumeric key ids). */
export const LOCAL_CREDENTIALS = { accessKeyId: "berthlocal", secretAccessKey: "berthlocal" };
export const LOCAL_REGION = "us-east-1";

/** fauxqs (SQS wire protocol) in this process, in memory: queue messages are hints, not data. */
export async function startQueueEngine(): Promise<Engine> {
  const server = await startFauxqs({ port: 0, logger: false });
  return { endpoint: server.address, stop: () => server.stop() };
}
