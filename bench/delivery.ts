/**
 * bench/delivery: the local server (a child process, as `npm start` runs it) with N simulated agents
 * (logged-in devices, each long-polling with keep-alive), then M reservations created by C concurrent
 * clients, spread over the devices. Reports delivery latency (create request sent → the target's poll
 * returns it), throughput, lost and duplicated deliveries, storage requests per delivered reservation and
 * per idle poll-minute, reads while polls wait (for two fleet sizes), and server RSS. An unsaturated
 * run (one client) shows the latency the protocol adds; the saturated run shows where the server tops out.
 * Run: npm run bench -- delivery   (BENCH_AGENTS, BENCH_RESERVATIONS, BENCH_CLIENTS override the sizes)
 */
import { rm } from "node:fs/promises";
import { HttpAgent } from "../test/helpers/http-agent.ts";
import { freePort } from "../test/helpers/ports.ts";
import { adminKeyOf, apiClient, startServerProcess, tempDir } from "../test/helpers/processes.ts";
import { load, summarize } from "./lib.ts";

interface Metrics {
  storage: { total: number; requests: Record<string, number> };
  polls: { waiting: number };
  process: { rssBytes: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function benchDelivery() {
  const agentsN = Number(process.env.BENCH_AGENTS ?? 1000);
  const reservationsN = Number(process.env.BENCH_RESERVATIONS ?? 5000);
  const clientsN = Number(process.env.BENCH_CLIENTS ?? 50);
  const wait = 25;
  const dataDir = await tempDir("bench-delivery");
  const server = await startServerProcess(dataDir, { PORT: String(await freePort()) });
  const agents: HttpAgent[] = [];
  try {
    const admin = await adminKeyOf(dataDir);
    const api = apiClient(
      () => server.url,
      () => admin,
    );
    const metrics = () => api<Metrics>("GET", "/metrics");
    const { token } = await api<{ token: string }>("POST", "/registration-tokens", { name: "bench" });
    await load(agentsN, 16, async () => {
      agents.push(await HttpAgent.register(server.url, token));
    });
    for (const a of agents) await a.pollOnce(0); // boot sync: every agent has its cursor

    /** Storage requests over `ms` while `n` agents' polls wait (started together, so none ends inside). */
    const whileWaiting = async (n: number, ms: number) => {
      const polls = agents.slice(0, n).map((a) => a.pollOnce(wait).catch(() => []));
      while ((await metrics()).polls.waiting < n) await sleep(50);
      await sleep(1000);
      const before = (await metrics()).storage.total;
      await sleep(ms);
      const after = (await metrics()).storage.total;
      await Promise.all(polls);
      return (after - before) / (ms / 1000);
    };
    const readsPerSecondSmall = await whileWaiting(Math.max(1, Math.floor(agentsN / 10)), 10_000);
    const readsPerSecondAll = await whileWaiting(agentsN, 10_000);

    // Steady idle state: every agent polling in a loop for a minute.
    for (const a of agents) a.start(wait);
    await sleep(3000);
    const idleBefore = (await metrics()).storage;
    await sleep(60_000);
    const idleAfter = await metrics();
    const idlePerPollMinute = (idleAfter.storage.total - idleBefore.total) / agentsN;
    const idleBreakdown = Object.entries(idleAfter.storage.requests)
      .map(
        ([k, v]) =>
          [k.replace(/Command$/, ""), round((v - (idleBefore.requests[k] ?? 0)) / agentsN)] as const,
      )
      .filter(([, v]) => v > 0)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ");

    const rssWaiting = (await metrics()).process.rssBytes;

    // Unsaturated: one client, one reservation at a time: the latency the protocol itself adds.
    const quiet: number[] = [];
    for (let i = 0; i < 200; i++) {
      const target = agents[(i * 7) % agentsN]!;
      const t0 = performance.now();
      const r = await api<{ id: string }>("POST", "/reservations", {
        nodeId: target.deviceId,
        type: "debug",
        data: { quiet: i },
        duration: 3600,
      });
      while (!target.deliveredAt.has(r.id)) await sleep(1);
      quiet.push(target.deliveredAt.get(r.id)! - t0);
    }
    const quietLatency = summarize(quiet);

    // Saturated: C clients creating as fast as the server takes them (a closed loop).
    const sentAt = new Map<string, number>();
    const answeredAt = new Map<string, number>();
    const before = (await metrics()).storage.total;
    const created = await load(reservationsN, clientsN, async (i) => {
      const target = agents[i % agentsN]!;
      const t0 = performance.now();
      const r = await api<{ id: string }>("POST", "/reservations", {
        nodeId: target.deviceId,
        type: "debug",
        data: { i },
        duration: 3600,
      });
      sentAt.set(r.id, t0);
      answeredAt.set(r.id, performance.now());
    });
    const deadline = Date.now() + 60_000;
    const delivered = () => agents.reduce((n, a) => n + a.deliveries.size, 0);
    while (delivered() < reservationsN + 200 && Date.now() < deadline) await sleep(100);
    const after = await metrics();

    const latencies: number[] = [];
    const wakeUps: number[] = [];
    let duplicated = 0;
    for (const a of agents) {
      for (const [id, count] of a.deliveries) {
        if (count > 1) duplicated++;
        const t0 = sentAt.get(id);
        if (t0 === undefined) continue;
        latencies.push(a.deliveredAt.get(id)! - t0);
        wakeUps.push(Math.max(0, a.deliveredAt.get(id)! - answeredAt.get(id)!));
      }
    }
    const lost = [...sentAt.keys()].filter((id) => !agents.some((a) => a.deliveries.has(id))).length;
    const s = summarize(latencies);
    const wake = summarize(wakeUps);
    const createLatency = summarize(created.latencies);
    const mib = (bytes: number) => Math.round(bytes / 2 ** 20);
    return [
      { metric: "agents long-polling (keep-alive)", value: agentsN },
      {
        metric: "unsaturated (1 client, 200 reservations): delivery p50 / p99 / max (ms)",
        value: `${quietLatency.p50} / ${quietLatency.p99} / ${quietLatency.max}`,
      },
      {
        metric: "saturated: reservations created / concurrent clients",
        value: `${reservationsN} / ${clientsN}`,
      },
      {
        metric: "saturated: create throughput (reservations/s)",
        value: Math.round((reservationsN / created.wallMs) * 1000),
      },
      {
        metric: "saturated: create request p50 / p99 (ms)",
        value: `${createLatency.p50} / ${createLatency.p99}`,
      },
      {
        metric: "saturated: delivery, request sent → poll returns: p50 / p95 / p99 / max (ms)",
        value: `${s.p50} / ${s.p95} / ${s.p99} / ${s.max}`,
      },
      {
        metric: "saturated: wake-up, create answered → poll returns: p50 / p99 / max (ms)",
        value: `${wake.p50} / ${wake.p99} / ${wake.max}`,
      },
      { metric: "lost / duplicated deliveries", value: `${lost} / ${duplicated}` },
      { metric: "bad signatures seen by agents", value: agents.reduce((n, a) => n + a.badSignatures, 0) },
      {
        metric: "storage requests per delivered reservation",
        value: round((after.storage.total - before) / reservationsN),
      },
      {
        metric: "storage requests per idle poll-minute (per agent)",
        value: `${round(idlePerPollMinute)} (${idleBreakdown})`,
      },
      {
        metric: `storage requests/s while polls wait: ${Math.floor(agentsN / 10)} vs ${agentsN} waiting`,
        value: `${round(readsPerSecondSmall)} vs ${round(readsPerSecondAll)}`,
      },
      {
        metric: "server RSS: all polls waiting / after the saturated run (MiB)",
        value: `${mib(rssWaiting)} / ${mib(after.process.rssBytes)}`,
      },
    ];
  } finally {
    await Promise.all(agents.map((a) => a.stop()));
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

const round = (n: number) => Math.round(n * 100) / 100;
