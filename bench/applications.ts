/**
 * bench/applications: one application on a fleet of simulated agents (specs/applications.md). One `berth
 * server` (a child process, as `npm start` runs it) and N HttpAgents long-polling it from this process; each
 * agent reports the application's container running as soon as its reservation arrives (as a real agent does
 * once its program runs). Measures, from the create (and then from an update that changes the spec) until
 * the application says `available = total = N`: the time, the storage requests the control plane made per
 * device (the fleet's idle polling over the same time, measured before, taken off), and the reconcile
 * passes' share of them is in there too.
 *
 * Run: npm run bench -- applications   (BENCH_ENGINE sqlite, BENCH_AGENTS 1000)
 */
import type { AgentReservation } from "../shared/contracts/reservations.ts";
import type { HttpAgent } from "../test/helpers/http-agent.ts";
import { load, loadKnobs, round, sleep } from "./lib.ts";
import { registerAgents, reportStatus, startServers } from "./servers.ts";

const HOLD = 20;
const APP = "/namespaces/default/applications";

type Status = { total: number; available: number };

export async function benchApplications() {
  const { engine, agentsN } = loadKnobs({ agents: 1000, reservations: 0, clients: 1, rate: 0 });
  const bench = await startServers("bench-apps", engine, 1, () => ({
    BERTH_POLL_WAIT_SECONDS: String(HOLD),
    ...(process.env.BENCH_DEBUG ? { BERTH_LOG_LEVEL: "debug" } : {}),
  }));
  const agents: HttpAgent[] = [];
  const rows: Record<string, string | number>[] = [];
  try {
    const server = bench.servers[0]!;
    const probe = bench.probe(server);
    const fleet = await registerAgents(server.url, bench.registrationToken, agentsN);
    agents.push(...fleet.agents);
    const reports: Promise<void>[] = [];
    const up = (agent: HttpAgent) => (r: AgentReservation) => {
      if (r.type !== "application") return;
      reports.push(
        reportStatus(server.url, agent, r.id, {
          state: "running",
          containers: [{ name: "server", state: "running", restartCount: 0 }],
        }),
      );
    };
    for (const a of agents) {
      a.onApply = up(a);
      a.start(HOLD);
    }
    await sleep(2000);

    // What the fleet costs while nothing happens (held polls coming back), to take off below.
    const idle0 = await probe.storageTotal();
    const idleMs = 10_000;
    await sleep(idleMs);
    const idlePerMs = ((await probe.storageTotal()) - idle0) / idleMs;

    const status = async () =>
      (await bench.api<{ deploymentStatus: Status & { updated: number } }>("GET", `${APP}/fleet-exporter`))
        .deploymentStatus;
    const rollout = async (
      label: string,
      write: () => Promise<unknown>,
      done: (s: Status & { updated: number }) => boolean,
    ) => {
      const before = await probe.storageTotal();
      const t0 = performance.now();
      await write();
      let s = await status();
      while (!done(s)) {
        await sleep(100);
        s = await status();
      }
      const ms = performance.now() - t0;
      await Promise.all(reports.splice(0));
      const requests = (await probe.storageTotal()) - before - idlePerMs * ms;
      rows.push({
        step: label,
        devices: agentsN,
        "seconds to available = total": round(ms / 1000),
        "storage requests": Math.round(requests),
        "per device": round(requests / agentsN),
      });
    };
    const spec = (command: string) => ({ containers: [{ name: "server", command }] });
    await rollout(
      "create",
      () =>
        bench.api("POST", APP, {
          name: "fleet-exporter",
          type: "process",
          scheduling: { type: "AllDevices" },
          spec: spec("exec sleep 1000"),
        }),
      (s) => s.total === agentsN && s.available === agentsN,
    );
    await rollout(
      "update (new spec, maxUnavailable 100%)",
      () => bench.api("PATCH", `${APP}/fleet-exporter`, { spec: spec("exec sleep 2000") }),
      (s) => s.updated === agentsN && s.available === agentsN,
    );
    await rollout(
      "update (maxUnavailable 25%)",
      async () => {
        await bench.api("PATCH", `${APP}/fleet-exporter`, { rollout: { maxUnavailable: "25%" } });
        await bench.api("PATCH", `${APP}/fleet-exporter`, { spec: spec("exec sleep 3000") });
      },
      (s) => s.updated === agentsN && s.available === agentsN,
    );
    rows.push({
      step: "(fleet idle: storage requests/s taken off above)",
      devices: agentsN,
      "seconds to available = total": "",
      "storage requests": round(idlePerMs * 1000),
      "per device": "",
    });
    if (process.env.BENCH_DEBUG)
      console.error(
        (server.stderr() + server.stdout())
          .split("\n")
          .filter((l) => l.includes("reconciled"))
          .join("\n"),
      );
  } finally {
    await load(agents.length, 64, async (i) => agents[i]!.stop());
    await bench.stop();
  }
  return rows;
}
