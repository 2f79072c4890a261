/**
 * What the server benchmarks (delivery, fleet) share: `berth server` processes on a BENCH_ENGINE storage,
 * readings of them (metrics, CPU, open files, event-loop delay) and of the load generator, simulated agents
 * logged in over HTTP, and reservations sent to them and timed until their target's poll returns them.
 */
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { rm } from "node:fs/promises";
import { resolve } from "node:path";
import { type IntervalHistogram, monitorEventLoopDelay } from "node:perf_hooks";
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
import { load, paced, sleep, summarize } from "./lib.ts";

export interface Metrics {
  storage: { total: number; requests: Record<string, number> };
  polls: { waiting: number };
  process: { rssBytes: number; heapUsedBytes: number };
}

/** CPU seconds a process has used (user + system), from /proc. */
export function cpuSeconds(pid: number | "self"): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Files (sockets included) a process has open, and its limit, from /proc. */
export function openFiles(pid: number | "self"): { open: number; limit: number } {
  const limits = readFileSync(`/proc/${pid}/limits`, "utf8");
  const limit = Number(/^Max open files\s+(\d+)/m.exec(limits)?.[1] ?? Number.NaN);
  return { open: readdirSync(`/proc/${pid}/fd`).length, limit };
}

/** Event-loop delay (ms): how late a 10 ms timer fired, at the median, the 99th percentile and worst. */
export interface LoopDelay {
  p50: number;
  p99: number;
  max: number;
}

const SAMPLE_MS = 10;
const delayMs = (h: LoopDelay): LoopDelay => {
  const ms = (ns: number) => Math.max(0, Math.round((ns / 1e6 - SAMPLE_MS) * 100) / 100);
  return { p50: ms(h.p50), p99: ms(h.p99), max: ms(h.max) };
};

let own: IntervalHistogram | undefined;
/** This process's event-loop delay since the last call. */
function ownLoopDelay(): LoopDelay {
  if (!own) {
    own = monitorEventLoopDelay({ resolution: SAMPLE_MS });
    own.enable();
  }
  const d = delayMs({ p50: own.percentile(50), p99: own.percentile(99), max: own.max });
  own.reset();
  return d;
}

/** Environment for a server whose event-loop delay `serverLoopDelay` reads (bench/loop-delay.mjs). */
export const loopDelayEnv = (file: string) => ({
  NODE_OPTIONS:
    `${process.env.NODE_OPTIONS ?? ""} --import=${resolve(import.meta.dirname, "loop-delay.mjs")}`.trim(),
  BENCH_LOOP_DELAY_FILE: file,
});

/** A server's event-loop delay since the last call, from its preload (`loopDelayEnv`). */
export const serverLoopDelay = (pid: number, file: string) => async (): Promise<LoopDelay> => {
  rmSync(file, { force: true });
  process.kill(pid, "SIGUSR2");
  const deadline = Date.now() + 5000;
  while (!existsSync(file)) {
    if (Date.now() > deadline)
      throw new Error(`no loop delay in ${file}: is bench/loop-delay.mjs preloaded?`);
    await sleep(10);
  }
  return delayMs(JSON.parse(readFileSync(file, "utf8")) as LoopDelay);
};

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

/**
 * `n` `berth server` processes on one storage (`engine`, as BENCH_ENGINE), each with its data dir, the
 * environment `env(dataDir)` and an operator token; an admin API client on the first and a registration
 * token. `stop()` stops them and removes what they wrote.
 */
export async function startServers(
  name: string,
  engine: string,
  n: number,
  env: (dataDir: string) => Record<string, string> = () => ({}),
) {
  const storage = await storageEnv(engine);
  const operatorToken = randomBytes(32).toString("hex");
  const dirs: string[] = [];
  const servers: ServerProcess[] = [];
  const stop = async () => {
    for (const s of servers) await s.stop();
    await storage.stop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < n; i++) {
      const dir = await tempDir(`${name}-${i}`);
      dirs.push(dir);
      servers.push(
        await startServerProcess(dir, {
          PORT: String(await freePort()),
          BERTH_OPERATOR_TOKEN: operatorToken,
          ...env(dir),
          ...storage.env,
        }),
      );
    }
    const admin = await adminKeyOf(dirs[0]!);
    const api = apiClient(
      () => servers[0]!.url,
      () => admin,
    );
    const { token } = await api<{ token: string }>("POST", "/registration-tokens", { name });
    const probe = (polled: ServerProcess, loopDelayFile?: string) =>
      probeOf(servers, polled, operatorToken, loopDelayFile);
    return { servers, dirs, admin, api, reserve: reserver(api), registrationToken: token, probe, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Readings of the servers of a run: the polled one's metrics, and storage requests and CPU of them all. */
export interface Probe {
  /** The server the agents poll. */
  polled: ServerProcess;
  metrics(): Promise<Metrics>;
  storageTotal(): Promise<number>;
  cpuSeconds(): number;
  /** The polled server's event-loop delay since the last call, when it was started with `loopDelayEnv`. */
  loopDelay?: () => Promise<LoopDelay>;
}

/** The process-wide view (every storage request, memory) needs the operator token. */
function probeOf(
  servers: ServerProcess[],
  polled: ServerProcess,
  operatorToken: string,
  loopDelayFile?: string,
): Probe {
  const metricsOf = (s: ServerProcess) =>
    apiClient(
      () => s.url,
      () => operatorToken,
    )<Metrics>("GET", "/metrics");
  return {
    polled,
    metrics: () => metricsOf(polled),
    storageTotal: async () =>
      (await Promise.all(servers.map(metricsOf))).reduce((n, m) => n + m.storage.total, 0),
    cpuSeconds: () => servers.reduce((x, s) => x + cpuSeconds(s.child.pid!), 0),
    loopDelay: loopDelayFile ? serverLoopDelay(polled.child.pid!, loopDelayFile) : undefined,
  };
}

/**
 * Readings over the time `work` takes: the servers' storage requests/s and CPU (share of one core); the
 * polled server's RSS, open files and event-loop delay; the same of this process (the load generator).
 */
export async function measure<T>(probe: Probe, work: () => Promise<T>) {
  await probe.loopDelay?.();
  ownLoopDelay();
  const before = await probe.storageTotal();
  const cpu0 = probe.cpuSeconds();
  const ownCpu0 = cpuSeconds("self");
  const t0 = performance.now();
  const result = await work();
  const seconds = (performance.now() - t0) / 1000;
  const generator = {
    cpuShare: (cpuSeconds("self") - ownCpu0) / seconds,
    rss: process.memoryUsage().rss,
    files: openFiles("self"),
    loopDelay: ownLoopDelay(),
  };
  const cpu = probe.cpuSeconds() - cpu0;
  const files = openFiles(probe.polled.child.pid!);
  const loopDelay = await probe.loopDelay?.();
  const after = await probe.storageTotal();
  const rss = (await probe.metrics()).process.rssBytes;
  const perSecond = (after - before) / seconds;
  return { seconds, perSecond, cpuShare: cpu / seconds, rss, files, loopDelay, generator, result };
}

/** `n` agents logged in with `token`, 16 at a time, each with its cursor (a boot sync done). */
export async function registerAgents(url: string, token: string, n: number) {
  const agents: HttpAgent[] = [];
  const t0 = performance.now();
  await load(n, 16, async () => {
    agents.push(await HttpAgent.register(url, token));
  });
  const loginMs = performance.now() - t0;
  await load(n, 16, async (i) => {
    await agents[i]!.pollOnce(0);
  });
  return { agents, loginMs, bootSyncMs: performance.now() - t0 - loginMs };
}

/**
 * Starts one poll of each of `agents` (held up to `wait` s), waits until the server holds them all, then
 * measures over `ms` (which must end before the hold does); resolves once the polls have answered.
 */
export async function whileWaiting(probe: Probe, agents: HttpAgent[], wait: number, ms: number) {
  const overflows0 = listenOverflows();
  const t0 = performance.now();
  const polls = agents.map((a) => a.pollOnce(wait).catch(() => []));
  const deadline = Date.now() + 60_000;
  for (let waiting = 0; waiting < agents.length; waiting = (await probe.metrics()).polls.waiting) {
    if (Date.now() > deadline) throw new Error(`only ${waiting} of ${agents.length} polls held after 60 s`);
    await sleep(50);
  }
  const allHeldMs = performance.now() - t0;
  const overflows = listenOverflows() - overflows0;
  await sleep(1000);
  const measured = await measure(probe, () => sleep(ms));
  await Promise.all(polls);
  return { ...measured, allHeldMs, overflows };
}

/** Connections the kernel turned away because a listen queue was full (whole machine), from /proc. */
export function listenOverflows(): number {
  const [names, values] = readFileSync("/proc/net/netstat", "utf8")
    .split("\n")
    .filter((l) => l.startsWith("TcpExt:"))
    .map((l) => l.split(/\s+/));
  return Number(values?.[names?.indexOf("ListenOverflows") ?? -1] ?? Number.NaN);
}

export interface Sent {
  id: string;
  target: HttpAgent;
  /** When the create request was sent, and when it was answered (performance.now()). */
  t0: number;
  answered: number;
}

/** A function that creates a debug reservation for `target` through `api` and times it. */
function reserver(api: ReturnType<typeof apiClient>) {
  return async (target: HttpAgent, tag: string, i: number): Promise<Sent> => {
    const t0 = performance.now();
    const r = await api<{ id: string }>("POST", "/reservations", {
      nodeId: target.deviceId,
      type: "debug",
      data: { tag, i },
      duration: 3600,
    });
    return { id: r.id, target, t0, answered: performance.now() };
  };
}

export const delivered = (s: Sent) => s.target.deliveredAt.has(s.id);

/** Resolves once every one of `sent` has reached its target, or after `ms`. */
export async function deliveredWithin(sent: Sent[], ms: number) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline && !sent.every(delivered)) await sleep(20);
}

/**
 * `n` reservations offered at `rate`/s over `lanes` (open loop, see `paced`), call `i` to `target(i)`; resolves
 * once all have arrived (or a minute after the last answer) with the time until the last answer and the last
 * delivery.
 */
export async function sendPaced(
  reserve: ReturnType<typeof reserver>,
  n: number,
  rate: number,
  lanes: number,
  target: (i: number) => HttpAgent,
  tag: string,
) {
  const sent: Sent[] = [];
  const t0 = performance.now();
  const { wallMs } = await paced(n, rate, lanes, async (i) => {
    sent.push(await reserve(target(i), tag, i));
  });
  await deliveredWithin(sent, 60_000);
  const deliveredMs = Math.max(...sent.map((s) => s.target.deliveredAt.get(s.id) ?? Number.NaN)) - t0;
  return { sent, wallMs, deliveredMs };
}

/** Delivery latency: create request sent → the target's poll returned it. */
export const latencyOf = (sent: Sent[]) =>
  summarize(sent.filter(delivered).map((s) => s.target.deliveredAt.get(s.id)! - s.t0));

/** Reservations sent that never arrived, and reservations that arrived more than once. */
export function lostAndDuplicated(agents: HttpAgent[], sent: Sent[]) {
  let duplicated = 0;
  for (const a of agents) for (const count of a.deliveries.values()) if (count > 1) duplicated++;
  return { lost: sent.filter((s) => !s.target.deliveries.has(s.id)).length, duplicated };
}

/**
 * A status report of a simulated agent (what the agent sends once a workload runs), retried as the agent
 * retries: a burst of a thousand at once can find the listen queue full.
 */
export async function reportStatus(url: string, agent: HttpAgent, id: string, body: unknown): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await fetch(`${url}/api/v1/agent/reservations/${id}/status`, {
        method: "POST",
        headers: { authorization: `Bearer ${agent.session}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      if (res.ok || res.status === 404) return;
      if (res.status < 500 && res.status !== 429)
        throw new Error(`status: ${res.status} ${await res.text()}`);
    } catch (err) {
      if (attempt >= 10) throw err;
    }
    await sleep(200 * attempt);
  }
}
