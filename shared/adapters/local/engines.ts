import { buildApp } from "fauxqs";

/** A running embedded engine: where to reach it and how to stop it. */
export interface Engine {
  endpoint: string;
  stop(): Promise<void>;
}

/** Static credentials for the embedded engines (DynamoDB Local wants alphanumeric key ids). */
export const LOCAL_CREDENTIALS = { accessKeyId: "berthlocal", secretAccessKey: "berthlocal" };
export const LOCAL_REGION = "us-east-1";

/**
 * fauxqs (SQS wire protocol) in this process, in memory: queue messages are hints, not data. It listens on
 * loopback only, whatever address the API listens on: nothing outside this machine reaches it.
 */
export async function startQueueEngine(): Promise<Engine> {
  // fauxqs's startFauxqs listens on 0.0.0.0 whatever it is told; its app, listened on here, does not.
  const app = buildApp({ logger: false, host: "127.0.0.1" });
  const endpoint = await app.listen({ port: 0, host: "127.0.0.1" });
  return { endpoint, stop: () => app.close() };
}
