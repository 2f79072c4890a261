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
import type { HttpAgent } from "../test/helpers/http-agent.ts";
import { load, loadKnobs, mib, round, sleep } from "./lib.ts";
import {
  deliveredWithin,
  latencyOf,
  lostAndDuplicated,
  registerAgents,
  type Sent,
  sendPaced,
  startServers,
  whileWaiting,
} from "./servers.ts";

export async function benchDelivery() {
  const serversN = Number(process.env.BENCH_SERVERS ?? 1);
  const knobs = loadKnobs({ agents: 300, reservations: 2000, clients: 50, rate: 500 });
  const { engine, agentsN, reservationsN, clientsN, rate, idleSeconds } = knobs;
  if (engine === "sqlite" && serversN > 1)
    throw new Error("BENCH_SERVERS=2 needs BENCH_ENGINE=postgres or dynamodb");
  const wait = 25;
  const bench = await startServers("bench-delivery", engine, serversN);
  const agents: HttpAgent[] = [];
  try {
    const polled = bench.servers[serversN - 1]!;
    const probe = bench.probe(polled);
    agents.push(...(await registerAgents(polled.url, bench.registrationToken, agentsN)).agents);

    const small = await whileWaiting(
      probe,
      agents.slice(0, Math.max(1, Math.floor(agentsN / 10))),
      wait,
      5_000,
    );
    const all = await whileWaiting(probe, agents, wait, 10_000);

    for (const a of agents) a.start(wait);
    await sleep(3000);
    let idleRow = "skipped (BENCH_IDLE_SECONDS=0)";
    if (idleSeconds > 0) {
      const before = await probe.storageTotal();
      await sleep(idleSeconds * 1000);
      idleRow = String(round(((await probe.storageTotal()) - before) / agentsN / (idleSeconds / 60)));
    }

    const target = (i: number) => agents[i % agentsN]!;
    const create = (i: number, tag: string) => bench.reserve(target(i), tag, i);

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
    const before = await probe.storageTotal();
    const {
      sent: paced,
      wallMs: pacedAnswered,
      deliveredMs: pacedDone,
    } = await sendPaced(bench.reserve, reservationsN, rate, clientsN, target, "paced");
    const pacedRequests = (await probe.storageTotal()) - before;
    const pacedLatency = latencyOf(paced);

    // Saturated (closed loop): `clientsN` clients as fast as the server answers.
    const saturated: Sent[] = [];
    const closed = await load(reservationsN, clientsN, async (i) => {
      saturated.push(await create(i, "saturated"));
    });
    await deliveredWithin(saturated, 60_000);
    const satLatency = latencyOf(saturated);

    const { lost, duplicated } = lostAndDuplicated(agents, [...quiet, ...paced, ...saturated]);
    const after = await probe.metrics();
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
    await bench.stop();
  }
}
