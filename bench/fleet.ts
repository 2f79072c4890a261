/**
 * bench/fleet: one `berth server` (a child process, as `npm start` runs it) with a fleet of simulated agents
 * long-polling it from one load-generator process (this one: each agent is an HttpAgent, its polls on
 * keep-alive sockets of the global fetch; no process per agent). Measures the fleet while its polls are held
 * (all at once, nothing answered), while it renews them (each agent in a loop, first polls spread over one
 * hold, as a fleet's are), then reservations to random agents at a paced rate: delivery latency, lost and
 * duplicated deliveries, storage requests, server RSS, CPU, open files and event-loop delay, and the load
 * generator's own (its delay is in every latency it measures).
 *
 * Run: npm run bench -- fleet
 *   BENCH_ENGINE (sqlite), BENCH_AGENTS (10000), BENCH_POLL_WAIT (55: the hold, the server's
 *   BERTH_POLL_WAIT_SECONDS), BENCH_IDLE_SECONDS (60), BENCH_RATE (100/s), BENCH_RESERVATIONS (3000),
 *   BENCH_CLIENTS (10)
 */
import { join } from "node:path";
import type { HttpAgent } from "../test/helpers/http-agent.ts";
import { loadKnobs, mib, round, sleep } from "./lib.ts";
import {
  type LoopDelay,
  latencyOf,
  loopDelayEnv,
  lostAndDuplicated,
  measure,
  registerAgents,
  sendPaced,
  startServers,
  whileWaiting,
} from "./servers.ts";

const delay = (d?: LoopDelay) => (d ? `${d.p50} / ${d.p99} / ${d.max}` : "n/a");
const files = (f: { open: number; limit: number }) => `${f.open} (limit ${f.limit})`;

export async function benchFleet() {
  const hold = Number(process.env.BENCH_POLL_WAIT ?? 55);
  const knobs = loadKnobs({ agents: 10_000, reservations: 3000, clients: 10, rate: 100 });
  const { engine, agentsN, reservationsN, clientsN, rate, idleSeconds } = knobs;
  // The held window ends well before the hold does (the polls take a few seconds to all be held).
  const heldSeconds = Math.max(5, Math.min(idleSeconds, hold - 20));
  const loopDelayFile = (dir: string) => join(dir, "bench-loop-delay.json");
  const bench = await startServers("bench-fleet", engine, 1, (dir) => ({
    BERTH_POLL_WAIT_SECONDS: String(hold),
    ...loopDelayEnv(loopDelayFile(dir)),
  }));
  const agents: HttpAgent[] = [];
  const starts: NodeJS.Timeout[] = [];
  try {
    const server = bench.servers[0]!;
    const probe = bench.probe(server, loopDelayFile(bench.dirs[0]!));
    const fleet = await registerAgents(server.url, bench.registrationToken, agentsN);
    agents.push(...fleet.agents);

    // Held: every agent's poll held at once; nothing is answered during the window.
    const held = await whileWaiting(probe, agents, hold, heldSeconds * 1000);

    // Renewing: each agent polls in a loop, its first poll spread over one hold, so ~agents/hold answer per s.
    for (const [i, a] of agents.entries())
      starts.push(setTimeout(() => a.start(hold), (i / agentsN) * hold * 1000));
    await sleep(hold * 1000 + 2000);
    const pollsOf = () => agents.reduce((n, a) => n + a.polls, 0);
    const polls0 = pollsOf();
    const ops0 = (await probe.metrics()).storage.requests;
    const idle = await measure(probe, () => sleep(idleSeconds * 1000));
    const renewed = pollsOf() - polls0;
    const pollsPerSecond = renewed / idle.seconds;
    const perPoll = Object.entries((await probe.metrics()).storage.requests)
      .map(([op, n]) => [op, round((n - (ops0[op] ?? 0)) / renewed)] as const)
      .filter(([, n]) => n > 0)
      .sort((a, b) => b[1] - a[1])
      .map(([op, n]) => `${op} ${n}`)
      .join(", ");

    // Reservations at `rate`/s to random agents (open loop: offered whatever the answers take), after a few
    // seconds of the same, not measured, so the server's create and delivery code is compiled and optimized.
    const random = () => agents[Math.floor(Math.random() * agentsN)]!;
    const send = (n: number, tag: string) => sendPaced(bench.reserve, n, rate, clientsN, random, tag);
    const warmUp = Math.min(3 * rate, reservationsN);
    await send(warmUp, "warm-up");
    await sleep(1000);
    const busy = await measure(probe, () => send(reservationsN, "paced"));
    const { sent, wallMs, deliveredMs } = busy.result;
    const latency = latencyOf(sent);
    const { lost, duplicated } = lostAndDuplicated(agents, sent);
    const after = await probe.metrics();

    const whileHeld = `all ${agentsN} polls held (${heldSeconds} s, none answered)`;
    const renewing = `renewing (each agent in a loop, ${round(pollsPerSecond)} polls answered/s; ${idleSeconds} s)`;
    const atRate = `${reservationsN} reservations at ${rate}/s to random agents`;
    return [
      { metric: "storage; poll hold (BERTH_POLL_WAIT_SECONDS)", value: `${engine}; ${hold} s` },
      { metric: "agents long-polling (one load-generator process, keep-alive)", value: agentsN },
      {
        metric: "logins, 16 at a time: wall time (s), logins/s; boot syncs (s)",
        value: `${round(fleet.loginMs / 1000)}, ${Math.round((agentsN / fleet.loginMs) * 1000)}/s; ${round(fleet.bootSyncMs / 1000)}`,
      },
      {
        metric: `${agentsN} polls sent at once: all held after (s); listen-queue overflows (kernel, whole machine)`,
        value: `${round(held.allHeldMs / 1000)}; ${held.overflows}`,
      },
      {
        metric: `${whileHeld}: server RSS (MiB) / CPU (share of one core)`,
        value: `${mib(held.rss)} / ${round(held.cpuShare)}`,
      },
      {
        metric: `${whileHeld}: storage requests/s; server loop delay p50 / p99 / max (ms)`,
        value: `${round(held.perSecond)}; ${delay(held.loopDelay)}`,
      },
      {
        metric: `${whileHeld}: open files, server / load generator`,
        value: `${files(held.files)} / ${files(held.generator.files)}`,
      },
      {
        metric: `${renewing}: server RSS (MiB) / CPU (share of one core)`,
        value: `${mib(idle.rss)} / ${round(idle.cpuShare)}`,
      },
      {
        metric: `${renewing}: storage requests/s; server loop delay p50 / p99 / max (ms)`,
        value: `${round(idle.perSecond)}; ${delay(idle.loopDelay)}`,
      },
      { metric: `${renewing}: storage requests per answered poll, by operation`, value: perPoll },
      {
        metric: `${renewing}: load generator RSS (MiB) / CPU (share of one core)`,
        value: `${mib(idle.generator.rss)} / ${round(idle.generator.cpuShare)}`,
      },
      {
        metric: `${atRate} (after ${warmUp} not measured): created/s, delivered/s`,
        value: `${Math.round((reservationsN / wallMs) * 1000)}, ${Math.round((reservationsN / deliveredMs) * 1000)}`,
      },
      {
        metric: `${atRate}: delivery p50 / p95 / p99 / max (ms)`,
        value: `${latency.p50} / ${latency.p95} / ${latency.p99} / ${latency.max}`,
      },
      { metric: `${atRate}: lost / duplicated deliveries`, value: `${lost} / ${duplicated}` },
      {
        metric: `${atRate}: storage requests/s (renewals included); per reservation, beyond the renewals`,
        value: `${round(busy.perSecond)}; ${round((busy.perSecond - idle.perSecond) / rate)}`,
      },
      {
        metric: `${atRate}: server CPU (share of one core); loop delay p50 / p99 / max (ms)`,
        value: `${round(busy.cpuShare)}; ${delay(busy.loopDelay)}`,
      },
      {
        metric: `${atRate}: load generator CPU; loop delay p50 / p99 / max (ms)`,
        value: `${round(busy.generator.cpuShare)}; ${delay(busy.generator.loopDelay)}`,
      },
      {
        metric: "poll errors seen by agents; bad signatures",
        value: `${agents.reduce((n, a) => n + a.errors, 0)}; ${agents.reduce((n, a) => n + a.badSignatures, 0)}`,
      },
      {
        metric: "server RSS / V8 heap used after the runs (MiB)",
        value: `${mib(after.process.rssBytes)} / ${mib(after.process.heapUsedBytes)}`,
      },
    ];
  } finally {
    for (const t of starts) clearTimeout(t);
    await Promise.all(agents.map((a) => a.stop()));
    await bench.stop();
  }
}
