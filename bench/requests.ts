/**
 * bench/requests: storage requests per operation on the hot paths, on every engine that runs here (the app
 * in process, as a host runs it, on SQLite, PostgreSQL and DynamoDB Local). A request is one call of the
 * storage port (a get, a query, a conditional write, a transaction), which on DynamoDB is one API call.
 * Counts are deterministic: they do not depend on the machine.
 * Run: npm run bench -- requests
 */
import { spawnSync } from "node:child_process";
import { dynamoStore } from "../shared/adapters/dynamo/dynamo-store.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../shared/adapters/local/engines.ts";
import { postgresStore } from "../shared/adapters/postgres/postgres-store.ts";
import { sqliteStore } from "../shared/adapters/sqlite/sqlite-store.ts";
import { newId } from "../shared/domain/ids.ts";
import type { Store } from "../shared/ports/store.ts";
import { testApp } from "../test/helpers/app.ts";
import { countRequests } from "../test/helpers/db.ts";
import { sharedDynamoDbLocal } from "../test/helpers/dynamodb-local.ts";
import { gpuAgent, submit } from "../test/helpers/jobs.ts";
import { freshDatabase, postgresMissing, startTestPostgres } from "../test/helpers/postgres.ts";

/** The counts the issue measured before this storage layer (dynalite, the same operations). */
const BEFORE: Record<string, number> = {
  "reservation create": 6,
  "empty poll": 2,
  "agent result (no job)": 4,
  "job submit, placed (10 devices)": 13,
  "result that ends a job, 20 jobs waiting": 51,
};

async function measure(store: Store): Promise<Record<string, number>> {
  const t = await testApp({ store, config: { pollWaitCapSeconds: 0 } });
  const counter = countRequests(store);
  const out: Record<string, number> = {};
  const agent = await gpuAgent(t, 1);
  await agent.poll(0);

  counter.reset();
  const res = await t.call("POST", "/api/v1/reservations", {
    token: t.admin,
    body: { nodeId: agent.deviceId, type: "debug", data: {}, duration: 600 },
  });
  const r = (await res.json()) as { id: string; type: string };
  await t.deps.background.drain();
  out["reservation create"] = counter.total();

  const first = await agent.poll(1);
  await t.deps.background.drain();
  counter.reset();
  await agent.poll(first.next);
  out["empty poll"] = counter.total();

  counter.reset();
  await agent.result(r, "ok", { echo: true });
  out["agent result (no job)"] = counter.total();

  // A fleet of 10 devices (one GPU each), all busy but one.
  const fleet = [agent, ...(await Promise.all(Array.from({ length: 9 }, () => gpuAgent(t, 1))))];
  const busy = [];
  for (let i = 0; i < 9; i++) busy.push(await submit(t, { gpus: { count: 1 } }));
  await t.deps.background.drain();
  counter.reset();
  const placed = await submit(t, { gpus: { count: 1 } });
  await t.deps.background.drain();
  out["job submit, placed (10 devices)"] = counter.total();
  if (placed.body.statusCode !== "Placed") throw new Error(`not placed: ${placed.body.statusMessage}`);

  // 20 jobs waiting; one running job ends (its result), which frees its GPU for the first of them.
  for (let i = 0; i < 20; i++) await submit(t, { gpus: { count: 1 } });
  await t.deps.background.drain();
  const job = await t.deps.repos.jobs.get(busy[0]!.body.id);
  const holder = fleet.find((a) => a.deviceId === job!.deviceId)!;
  const mine = (await holder.take()).find((x) => x.id === job!.reservationId)!;
  await holder.started(mine.id);
  counter.reset();
  await holder.result(mine, "ok", { exitCode: 0 });
  await t.deps.background.drain();
  out["result that ends a job, 20 jobs waiting"] = counter.total();
  t.deps.feedWatcher.close();
  return out;
}

export async function benchRequests() {
  const results: Record<string, Record<string, number>> = {};
  results.sqlite = await measure(sqliteStore(":memory:"));
  if (!postgresMissing()) {
    const pg = await startTestPostgres();
    const store = await postgresStore(await freshDatabase(pg.url));
    try {
      results.postgres = await measure(store);
    } finally {
      await store.close();
      await pg.stop();
    }
  } else console.warn(`[requests] skipping PostgreSQL: ${postgresMissing()}`);
  if (spawnSync("java", ["-version"], { stdio: "ignore" }).status === 0) {
    const { endpoint, stop } = await sharedDynamoDbLocal();
    const store = dynamoStore(`bench-${newId()}`, {
      endpoint,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    });
    await store.ensureTable();
    try {
      results["dynamodb-local"] = await measure(store);
    } finally {
      await store.close();
      stop();
    }
  } else console.warn("[requests] skipping DynamoDB Local: java not found");
  return Object.keys(BEFORE).map((op) => ({
    operation: op,
    "before (dynalite, issue)": BEFORE[op]!,
    ...Object.fromEntries(Object.entries(results).map(([engine, r]) => [engine, r[op] ?? "-"])),
  }));
}
