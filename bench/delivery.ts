/**
 * bench/delivery: `berth server` (child processes, as `npm start` runs it) with N simulated agents (logged-in
 * devices, each long-polling with keep-alive), then reservations created by C concurrent clients, spread over
 * the devices. Reports delivery latency (create request sent → the target's poll returns it) one at a time, at
 * a paced rate (open loop: R reservations/s offered, whatever the answers take) and saturated (closed loop: C
 * clients as fast as the server answers), lost and duplicated deliveries, storage requests, the cost of
 * waiting polls, and server RSS and CPU.
 *
 * Run: npm run bench -- delivery
 *   BENCH_ENGINE    sqlite (default) | postgres (a PostgreSQL started for the run) | dynamodb (DynamoDB Local)
 *   BENCH_SERVERS   1 (default) | 2: two servers on one database, clients on the first, agents on the second
 *   BENCH_AGENTS (300), BENCH_RESERVATIONS (2000), BENCH_CLIENTS (50), BENCH_RATE (500/s), BENCH_IDLE_SECONDS (60)
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { sharedDynamoDbLocal } from "../test/helpers/dynamodb-local.ts";
import { HttpAgent } from "../test/helpers/http-agent.ts";
import { freePort } from "../test/helpers/ports.ts";
import { freshDatabase, startTestPostgres } from "../test/helpers/postgres.ts";
import {
  adminKeyOf,
  apiClient,
  type ServerProcess,
  startServerProcess,
  tempDir,
} from "../test/helpers/processes.ts";
import { load, summarize } from "./lib.ts";

interface Metrics {
  storage: { total: number; requests: Record<string, number> };
  polls: { waiting: number };
  process: { rssBytes: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (n: number) => Math.round(n * 100) / 100;
const mib = (bytes: number) => Math.round(bytes / 2 ** 20);

/** CPU seconds a process has used (user + system), from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Where the servers keep their data, per BENCH_ENGINE. */
async function storageEnv(engine: string): Promise<{ env: Record<string, string>; stop(): Promise<void> }> {
  if (engine === "postgres") {
    const pg = await startTestPostgres();
    return {
      env: { BERTH_DATABASE_URL: await freshDatabase(pg.url), BERTH_DATABASE_POOL_SIZE: "20" },
      stop: () => pg.stop(),
    };
  }
  if (engine === "dynamodb") {
    const ddb = await sharedDynamoDbLocal();
    return {
      env: {
        BERTH_DYNAMODB_ENDPOINT: ddb.endpoint,
        BERTH_TABLE_NAME: `bench-${Date.now()}`,
        AWS_ACCESS_KEY_ID: "berthlocal",
        AWS_SECRET_ACCESS_KEY: "berthlocal",
        AWS_REGION: "us-east-1",
      },
      stop: async () => ddb.stop(),
    };
  }
  return { env: {}, stop: async () => {} };
}

export async function benchDelivery() {
  const engine = process.env.BENCH_ENGINE ?? "sqlite";
  const serversN = Number(process.env.BENCH_SERVERS ?? 1);
  const agentsN = Number(process.env.BENCH_AGENTS ?? 300);
  const reservationsN = Number(process.env.BENCH_RESERVATIONS ?? 2000);
  const clientsN = Number(process.env.BENCH_CLIENTS ?? 50);
  const rate = Number(process.env.BENCH_RATE ?? 500);
  const idleSeconds = Number(process.env.BENCH_IDLE_SECONDS ?? 60);
  if (engine === "sqlite" && serversN > 1)
    throw new Error("BENCH_SERVERS=2 needs BENCH_ENGINE=postgres or dynamodb");
  const wait = 25;
  const storage = await storageEnv(engine);
  const dirs: string[] = [];
  const servers: ServerProcess[] = [];
  const agents: HttpAgent[] = [];
  const operatorToken = randomBytes(32).toString("hex");
  try {
    for (let i = 0; i < serversN; i++) {
      const dir = await tempDir(`bench-delivery-${i}`);
      dirs.push(dir);
      servers.push(
        await startServerProcess(dir, {
          PORT: String(await freePort()),
          BERTH_OPERATOR_TOKEN: operatorToken,
          ...storage.env,
        }),
      );
    }
    const writer = servers[0]!;
    const polled = servers[serversN - 1]!;
    const admin = await adminKeyOf(dirs[0]!);
    const api = apiClient(
      () => writer.url,
      () => admin,
    );
    // The process-wide view (every storage request, memory) needs the operator token.
    const metricsOf = (s: ServerProcess) =>
      apiClient(
        () => s.url,
        () => operatorToken,
      )<Metrics>("GET", "/metrics");
    const storageTotal = async () =>
      (await Promise.all(servers.map(metricsOf))).reduce((n, m) => n + m.storage.total, 0);
    const { token } = await api<{ token: string }>("POST", "/registration-tokens", { name: "bench" });
    await load(agentsN, 16, async () => {
      agents.push(await HttpAgent.register(polled.url, token));
    });
    for (const a of agents) await a.pollOnce(0); // boot sync: every agent has its cursor

    /** Storage requests/s and server CPU over `ms` while `n` agents' polls wait (started together). */
    const whileWaiting = async (n: number, ms: number) => {
      const polls = agents.slice(0, n).map((a) => a.pollOnce(wait).catch(() => []));
      while ((await metricsOf(polled)).polls.waiting < n) await sleep(50);
      await sleep(1000);
      const before = await storageTotal();
      const cpu0 = servers.reduce((x, s) => x + cpuSeconds(s.child.pid!), 0);
      await sleep(ms);
      const cpu = servers.reduce((x, s) => x + cpuSeconds(s.child.pid!), 0) - cpu0;
      const after = await storageTotal();
      const rss = (await metricsOf(polled)).process.rssBytes;
      await Promise.all(polls);
      return { perSecond: (after - before) / (ms / 1000), cpuShare: cpu / (ms / 1000), rss };
    };
    const small = await whileWaiting(Math.max(1, Math.floor(agentsN / 10)), 5_000);
    const all = await whileWaiting(agentsN, 10_000);

    for (const a of agents) a.start(wait);
    await sleep(3000);
    let idleRow = "skipped (BENCH_IDLE_SECONDS=0)";
    if (idleSeconds > 0) {
      const before = await storageTotal();
      await sleep(idleSeconds * 1000);
      idleRow = String(round(((await storageTotal()) - before) / agentsN / (idleSeconds / 60)));
    }

    const create = async (i: number, tag: string) => {
      const target = agents[i % agentsN]!;
      const t0 = performance.now();
      const r = await api<{ id: string }>("POST", "/reservations", {
        nodeId: target.deviceId,
        type: "debug",
        data: { tag, i },
        duration: 3600,
      });
      return { id: r.id, target, t0, answered: performance.now() };
    };
    const deliveredWithin = async (sent: { id: string; target: HttpAgent }[], ms: number) => {
      const deadline = Date.now() + ms;
      while (Date.now() < deadline && !sent.every((s) => s.target.deliveredAt.has(s.id))) await sleep(20);
    };
    const latencyOf = (sent: { id: string; target: HttpAgent; t0: number }[]) =>
      summarize(
        sent.filter((s) => s.target.deliveredAt.has(s.id)).map((s) => s.target.deliveredAt.get(s.id)! - s.t0),
      );

    // Warm-up (not measured): the server's code is compiled and optimized by V8 under load, as a running
    // server's is; the first seconds of a cold process are several times slower.
    await load(Math.min(2000, reservationsN), clientsN, async (i) => {
      await create(i, "warm-up");
    });
    await sleep(1000);

    // One at a time: the latency the protocol itself adds.
    const quiet = [];
    for (let i = 0; i < 200; i++) {
      const s = await create(i * 7, "quiet");
      while (!s.target.deliveredAt.has(s.id)) await sleep(0);
      quiet.push(s);
    }
    const quietLatency = latencyOf(quiet);

    // Paced (open loop): `rate` per second offered by `clientsN` clients, whatever the answers take.
    const paced: { id: string; target: HttpAgent; t0: number; answered: number }[] = [];
    const before = await storageTotal();
    const pacedStart = performance.now();
    await Promise.all(
      Array.from({ length: clientsN }, async (_, c) => {
        const inFlight: Promise<void>[] = [];
        for (let k = c; k < reservationsN; k += clientsN) {
          const due = pacedStart + (k / rate) * 1000;
          const delay = due - performance.now();
          if (delay > 0) await sleep(delay);
          inFlight.push(create(k, "paced").then((s) => void paced.push(s)));
        }
        await Promise.all(inFlight);
      }),
    );
    const pacedAnswered = performance.now() - pacedStart;
    await deliveredWithin(paced, 60_000);
    const pacedDone =
      Math.max(...paced.map((s) => s.target.deliveredAt.get(s.id) ?? Number.NaN)) - pacedStart;
    const pacedRequests = (await storageTotal()) - before;
    const pacedLatency = latencyOf(paced);

    // Saturated (closed loop): `clientsN` clients as fast as the server answers.
    const saturated: { id: string; target: HttpAgent; t0: number }[] = [];
    const closed = await load(reservationsN, clientsN, async (i) => {
      saturated.push(await create(i, "saturated"));
    });
    await deliveredWithin(saturated, 60_000);
    const satLatency = latencyOf(saturated);

    let duplicated = 0;
    for (const a of agents) for (const count of a.deliveries.values()) if (count > 1) duplicated++;
    const sent = [...quiet, ...paced, ...saturated];
    const lost = sent.filter((s) => !s.target.deliveries.has(s.id)).length;
    const after = await metricsOf(polled);
    const where = `${engine}${serversN > 1 ? `, ${serversN} servers (clients on one, agents on the other)` : ""}`;
    return [
      { metric: "storage", value: where },
      { metric: "agents long-polling (keep-alive)", value: agentsN },
      {
        metric: "one at a time (200): delivery p50 / p99 / max (ms)",
        value: `${quietLatency.p50} / ${quietLatency.p99} / ${quietLatency.max}`,
      },
      {
        metric: `paced: ${reservationsN} offered at ${rate}/s by ${clientsN} clients: created and delivered per second`,
        value: `${Math.round((reservationsN / pacedAnswered) * 1000)} created, ${Math.round((reservationsN / pacedDone) * 1000)} delivered`,
      },
      {
        metric: "paced: delivery p50 / p95 / p99 / max (ms)",
        value: `${pacedLatency.p50} / ${pacedLatency.p95} / ${pacedLatency.p99} / ${pacedLatency.max}`,
      },
      {
        metric: `saturated: ${reservationsN} by ${clientsN} clients in a closed loop: reservations/s`,
        value: Math.round((reservationsN / closed.wallMs) * 1000),
      },
      {
        metric: "saturated: delivery p50 / p99 / max (ms)",
        value: `${satLatency.p50} / ${satLatency.p99} / ${satLatency.max}`,
      },
      { metric: "lost / duplicated deliveries (all phases)", value: `${lost} / ${duplicated}` },
      { metric: "bad signatures seen by agents", value: agents.reduce((n, a) => n + a.badSignatures, 0) },
      {
        metric: "storage requests per reservation (paced, all servers)",
        value: round(pacedRequests / reservationsN),
      },
      { metric: "storage requests per idle agent-minute", value: idleRow },
      {
        metric: `while polls wait, ${Math.floor(agentsN / 10)} vs ${agentsN}: storage requests/s`,
        value: `${round(small.perSecond)} vs ${round(all.perSecond)}`,
      },
      {
        metric: `while ${agentsN} polls wait: server CPU (cores) / RSS (MiB)`,
        value: `${round(all.cpuShare)} / ${mib(all.rss)}`,
      },
      { metric: "server RSS after the runs (MiB)", value: mib(after.process.rssBytes) },
    ];
  } finally {
    await Promise.all(agents.map((a) => a.stop()));
    for (const s of servers) await s.stop();
    await storage.stop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  }
}
