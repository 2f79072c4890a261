/**
 * bench/cost: what idle agents cost on AWS, per hosting of the agent routes (issue 13), from storage
 * requests counted by running the real poll path and from the list prices in bench/prices.ts.
 *
 * Measured, not assumed: one agent's idle hour is run in process (the app on SQLite, a manual clock; storage
 * requests are calls of the storage port, the same count on every engine, see bench/requests) at the
 * cadence each hosting gives it: a poll held 20 s (the poll Lambda), answered at once and repeated every 15 s
 * (short polling), held 55 s (the service). Reads are priced as strongly consistent (1 read unit each, items
 * under 4 KB; the DynamoDB store reads consistently), writes at 1 write unit (items under 1 KB).
 * The settings are the deploy's (infra/hosting.ts): the online TTL of 300 s (presence written at most every
 * 100 s), the hold of each hosting. Fixed costs per process: the change check (4 strongly consistent table
 * queries per BERTH_CHANGE_CHECK_MS in each process that has waiting polls: every 1 s on the poll Lambda,
 * where that is every warm environment, i.e. every waiting agent; every 250 ms on each service task) and, for
 * the service, its tasks and load balancer. Run: npm run bench -- cost
 */

import { COMMON_ENVIRONMENT, SERVICE_ENVIRONMENT } from "../infra/hosting.ts";
import { sqliteStore } from "../shared/adapters/sqlite/sqlite-store.ts";
import type { AppConfig } from "../shared/config.ts";
import { registerAgent } from "../test/helpers/agents.ts";
import { testApp } from "../test/helpers/app.ts";
import { manualClock } from "../test/helpers/clock.ts";
import { countRequests } from "../test/helpers/db.ts";
import { HOURS_PER_MONTH, MINUTES_PER_MONTH, PRICES } from "./prices.ts";

const READS = ["get", "getMany", "query", "scan"];
const WRITES = ["put", "update", "delete", "transact"];
/** One query per shard of the change records per check. */
const CHANGE_CHECK_SHARDS = 4;
/** Checks a second: the default interval (1 s) on the Lambdas, the service's own. */
const LAMBDA_CHECKS_PER_SECOND = 1;
const SERVICE_CHECKS_PER_SECOND = 1000 / Number(SERVICE_ENVIRONMENT.BERTH_CHANGE_CHECK_MS);
/** Agents one service task (0.5 vCPU, 1 GB) holds; at least two tasks for availability. */
const AGENTS_PER_TASK = 10_000;
const TASK = { vcpu: 0.5, gb: 1 };
/** How long an empty short poll runs on the 128 MB poll Lambda (one read; cold starts not counted). */
const SHORT_POLL_SECONDS = 0.03;
const FLEETS = [1_000, 10_000, 100_000];

interface Hosting {
  name: string;
  /** Seconds between the starts of an idle agent's polls. */
  every: number;
  config: Partial<AppConfig>;
}
const HOSTINGS: Hosting[] = [
  { name: "lambda (poll Lambda, 128 MB, hold 20 s)", every: 20, config: {} },
  { name: "lambda-short (answer at once, back in 15 s)", every: 15, config: { pollMode: "short" } },
  {
    name: "service (Fargate + ALB, hold 55 s)",
    every: 55,
    config: { deviceAuthCacheSeconds: Number(SERVICE_ENVIRONMENT.BERTH_DEVICE_AUTH_CACHE_SECONDS) },
  },
];

/** Storage reads and writes per idle agent-minute, running one agent's idle hour at the hosting's cadence. */
async function idleAgentMinute(h: Hosting): Promise<{ reads: number; writes: number }> {
  const clock = manualClock(new Date());
  const store = sqliteStore(":memory:");
  const t = await testApp({
    store,
    clock,
    config: {
      pollWaitCapSeconds: 0,
      deviceTtlSeconds: Number(COMMON_ENVIRONMENT.BERTH_DEVICE_TTL_SECONDS),
      ...h.config,
    },
  });
  const agent = await registerAgent(t);
  const cursor = (await agent.poll(0)).next;
  clock.advance(60_000);
  const counter = countRequests(store);
  const seconds = 3600;
  for (let s = 0; s < seconds; s += h.every) {
    await agent.poll(cursor, 0);
    clock.advance(h.every * 1000);
  }
  await t.deps.background.drain();
  const sum = (ops: string[]) => ops.reduce((n, op) => n + counter.of(op), 0);
  return { reads: sum(READS) / 60, writes: sum(WRITES) / 60 };
}

const usd = (n: number) => (n >= 100 ? `$${Math.round(n).toLocaleString("en-US")}` : `$${n.toFixed(2)}`);

export async function benchCost(): Promise<Record<string, string | number>[]> {
  const p = PRICES;
  const rows: Record<string, string | number>[] = [];
  const changeCheckMonth = (checksPerSecond: number) =>
    CHANGE_CHECK_SHARDS * checksPerSecond * 60 * MINUTES_PER_MONTH * (p.dynamodb.perMillionReadUnits / 1e6);
  for (const h of HOSTINGS) {
    const { reads, writes } = await idleAgentMinute(h);
    const storagePerAgent =
      MINUTES_PER_MONTH *
      ((reads * p.dynamodb.perMillionReadUnits) / 1e6 + (writes * p.dynamodb.perMillionWriteUnits) / 1e6);
    const polls = (MINUTES_PER_MONTH * 60) / h.every;
    for (const agents of FLEETS) {
      let hosting: number;
      let note: string;
      if (h.name.startsWith("lambda (")) {
        // Every waiting agent holds a 128 MB environment the whole month, each running its own change check.
        const gbSeconds = MINUTES_PER_MONTH * 60 * 0.125;
        hosting =
          agents *
          (gbSeconds * p.lambda.perGbSecond +
            (polls * p.lambda.perMillionRequests) / 1e6 +
            changeCheckMonth(LAMBDA_CHECKS_PER_SECOND));
        note = `${agents.toLocaleString("en-US")} concurrent executions (default quota 1,000)`;
      } else if (h.name.startsWith("lambda-short")) {
        const gbSeconds = polls * SHORT_POLL_SECONDS * 0.125;
        hosting = agents * (gbSeconds * p.lambda.perGbSecond + (polls * p.lambda.perMillionRequests) / 1e6);
        note = `up to ${h.every} s from a write to its delivery`;
      } else {
        const tasks = Math.max(2, Math.ceil(agents / AGENTS_PER_TASK));
        const task = HOURS_PER_MONTH * (TASK.vcpu * p.fargate.perVcpuHour + TASK.gb * p.fargate.perGbHour);
        const lcus = Math.max(1, agents / p.alb.activeConnectionsPerLcu);
        const alb = HOURS_PER_MONTH * (p.alb.perHour + lcus * p.alb.perLcuHour);
        hosting = tasks * (task + changeCheckMonth(SERVICE_CHECKS_PER_SECOND)) + alb;
        note = `${tasks} task(s) of ${TASK.vcpu} vCPU / ${TASK.gb} GB, ALB ${lcus.toFixed(1)} LCU`;
      }
      const storage = agents * storagePerAgent;
      rows.push({
        hosting: h.name,
        agents: agents.toLocaleString("en-US"),
        "storage req / agent-min (r + w)": `${reads.toFixed(2)} + ${writes.toFixed(2)}`,
        "hosting $/month": usd(hosting),
        "DynamoDB $/month": usd(storage),
        "total $/month": usd(hosting + storage),
        "$/agent-month": `$${((hosting + storage) / agents).toFixed(3)}`,
        note,
      });
    }
  }
  return rows;
}
