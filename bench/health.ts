/**
 * bench/health: GPU health reports and Prometheus scrapes (specs/gpu-health.md §5, issue 19). One `berth
 * server` (a child process, as `npm start` runs it) and N simulated devices; each posts a report of 8 GPUs
 * and GPUd's twelve components (GPU 3 Unhealthy after an Xid 79, with its event), all at once; then the
 * same again a minute later (collectedAt newer, no new event); then admin scrapes of `GET /metrics`.
 * Measures each request's latency and the storage requests per report and per scrape.
 *
 * Run: npm run bench -- health   (BENCH_ENGINE sqlite, BENCH_AGENTS 200)
 */
import { COMPONENTS, type HealthReport } from "../shared/domain/gpu-health.ts";
import type { HttpAgent } from "../test/helpers/http-agent.ts";
import { load, loadKnobs, round, summarize } from "./lib.ts";
import { registerAgents, startServers } from "./servers.ts";

function report(at: Date, withEvent: boolean): HealthReport {
  const gpus = Array.from({ length: 8 }, (_, i) => ({
    index: i,
    uuid: `GPU-${i}`,
    health: i === 3 ? ("Unhealthy" as const) : ("Healthy" as const),
    components: i === 3 ? [COMPONENTS.xid] : [],
  }));
  const perGpu = (component: string) => ({
    component,
    states: gpus.map((g) => ({
      name: component.replace("accelerator-nvidia-", ""),
      health: component === COMPONENTS.xid && g.index === 3 ? ("Unhealthy" as const) : ("Healthy" as const),
      reason:
        component === COMPONENTS.xid && g.index === 3
          ? "XID 79 (GPU has fallen off the bus) detected on GPU GPU-3"
          : "",
      extra_info: { gpu_uuid: g.uuid, gpu_index: String(g.index) },
    })),
  });
  return {
    source: "berth",
    bootId: "boot-1",
    collectedAt: at.toISOString(),
    states: Object.values(COMPONENTS)
      .filter((c) => c !== COMPONENTS.docker)
      .map(perGpu),
    events: withEvent
      ? [
          {
            id: "boot-1:1801",
            component: COMPONENTS.xid,
            time: at.toISOString(),
            name: "error_xid",
            type: "Fatal",
            message: "XID 79",
          },
        ]
      : [],
    gpus,
  };
}

export async function benchHealth() {
  const { engine, agentsN } = loadKnobs({ agents: 200, reservations: 0, clients: 1, rate: 0 });
  const bench = await startServers("bench-health", engine, 1);
  const rows: Record<string, string | number>[] = [];
  try {
    const server = bench.servers[0]!;
    const probe = bench.probe(server);
    const { agents } = await registerAgents(server.url, bench.registrationToken, agentsN);
    const bytes = JSON.stringify(report(new Date(), true)).length;
    const post = async (a: HttpAgent, body: HealthReport) => {
      const t0 = performance.now();
      const res = await fetch(`${server.url}/api/v1/agent/health`, {
        method: "POST",
        headers: { authorization: `Bearer ${a.session}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      if (!res.ok) throw new Error(`health: ${res.status} ${await res.text()}`);
      return performance.now() - t0;
    };
    for (const [step, at, withEvent] of [
      ["first report (with an Xid event)", new Date(Date.now() - 60_000), true],
      ["next report (no new event)", new Date(), false],
    ] as const) {
      const before = await probe.storageTotal();
      const ms: number[] = [];
      const t0 = performance.now();
      await load(agents.length, 32, async (i) => void ms.push(await post(agents[i]!, report(at, withEvent))));
      const total = (performance.now() - t0) / 1000;
      const s = summarize(ms.sort((a, b) => a - b));
      rows.push({
        step,
        devices: agents.length,
        "report KiB": round(bytes / 1024),
        "p50 ms": s.p50,
        "p99 ms": s.p99,
        "all in s": round(total),
        "storage req/report": round(((await probe.storageTotal()) - before) / agents.length),
      });
    }
    const scrapes: number[] = [];
    const before = await probe.storageTotal();
    let size = 0;
    for (let i = 0; i < 10; i++) {
      const t0 = performance.now();
      const res = await fetch(`${server.url}/metrics`, {
        headers: { authorization: `Bearer ${bench.admin}` },
      });
      size = (await res.text()).length;
      scrapes.push(performance.now() - t0);
    }
    const s = summarize(scrapes.sort((a, b) => a - b));
    rows.push({
      step: "GET /metrics (admin, 10 scrapes)",
      devices: agents.length,
      "report KiB": round(size / 1024),
      "p50 ms": s.p50,
      "p99 ms": s.p99,
      "all in s": round(scrapes.reduce((a, b) => a + b, 0) / 1000),
      "storage req/report": round(((await probe.storageTotal()) - before) / 10),
    });
    return rows;
  } finally {
    await bench.stop();
  }
}
