/**
 * bench/jobs: 200 one-GPU jobs on 20 simulated devices of 4 GPUs (more jobs than GPUs, so placement waits
 * for capacity and GPU claims race), through the local server (a child process, as `npm start`). Each
 * simulated agent reports a job's start at once and its exit after ~200 ms, signed. First 100 jobs (BENCH_IDLE_JOBS) one at a
 * time on the idle fleet (the latency of the path itself), then the load. Reports submit → Running latency, jobs per second (submit of the first → end of the last), and placement conflicts
 * retried (GPU claims lost to another job). Run: npm run bench -- jobs
 */
import { rm } from "node:fs/promises";
import { HttpAgent } from "../test/helpers/http-agent.ts";
import { freePort } from "../test/helpers/ports.ts";
import { adminKeyOf, apiClient, startServerProcess, tempDir } from "../test/helpers/processes.ts";
import { load, summarize } from "./lib.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function benchJobs() {
  const devices = Number(process.env.BENCH_DEVICES ?? 20);
  const jobsN = Number(process.env.BENCH_JOBS ?? 200);
  const clients = Number(process.env.BENCH_CLIENTS ?? 10);
  const idleJobs = Number(process.env.BENCH_IDLE_JOBS ?? 100);
  const runMs = 200;
  const dataDir = await tempDir("bench-jobs");
  const server = await startServerProcess(dataDir, { PORT: String(await freePort()) });
  const agents: HttpAgent[] = [];
  try {
    const admin = await adminKeyOf(dataDir);
    const api = apiClient(
      () => server.url,
      () => admin,
    );
    const { token } = await api<{ token: string }>("POST", "/registration-tokens", { name: "bench" });
    const runningAt = new Map<string, number>(); // reservation id → when the agent reported it running
    let finished = 0;
    const reportErrors: string[] = [];
    for (let i = 0; i < devices; i++) {
      const agent = await HttpAgent.register(server.url, token, {
        resources: { cpu: "32", memory: "256Gi", "nvidia.com/gpu": "4" },
        machineInfo: {
          hostname: `sim-${i}`,
          gpuInfo: { product: "A100", gpus: [0, 1, 2, 3].map((g) => ({ minorID: String(g) })) },
        },
      });
      agent.onApply = (r) => {
        void (async () => {
          await agent.started(r.id);
          runningAt.set(r.id, performance.now());
          await sleep(runMs);
          await agent.result(r.id, "ok", { exitCode: 0 });
          finished++;
        })().catch((e: unknown) => {
          reportErrors.push(String(e));
        });
      };
      await agent.pollOnce(0);
      agent.start(20);
      agents.push(agent);
    }
    // Unloaded: one job at a time on an idle fleet (the latency the path itself adds).
    const idle: number[] = [];
    for (let i = 0; i < idleJobs; i++) {
      const before = finished;
      const running = runningAt.size;
      const t0 = performance.now();
      await api("POST", "/jobs", { name: `idle-${i}`, exe: "train", gpus: { count: 1 } });
      while (runningAt.size === running) await sleep(1);
      idle.push(performance.now() - t0);
      while (finished === before) await sleep(5);
    }
    runningAt.clear();
    finished = 0;
    const conflictsBefore = (await api<{ placement: { conflicts: number } }>("GET", "/metrics")).placement
      .conflicts;
    const submittedAt = new Map<string, number>(); // job id → when its submit request was sent
    const started = performance.now();
    await load(jobsN, clients, async (i) => {
      const t0 = performance.now();
      const job = await api<{ id: string }>("POST", "/jobs", {
        name: `bench-${i}`,
        exe: "train",
        gpus: { count: 1 },
      });
      submittedAt.set(job.id, t0);
    });
    const deadline = Date.now() + 300_000;
    const finalCount = async () =>
      (await api<{ items: unknown[] }>("GET", "/jobs?pageSize=500&fields=status&statuses=Finished")).items
        .length - idle.length;
    while ((finished < jobsN || (await finalCount()) < jobsN) && Date.now() < deadline) await sleep(100);
    const wallMs = performance.now() - started;
    const metrics = await api<{ placement: { conflicts: number } }>("GET", "/metrics");

    // Join job → reservation through the jobs themselves (reservation ids are not known to the clients).
    const latencies: number[] = [];
    const jobs = await api<{ items: { id: string; status: string }[] }>(
      "GET",
      "/jobs?pageSize=500&fields=status",
    );
    const reservations = await api<{ items: { id: string; jobId?: string }[] }>(
      "GET",
      "/reservations?pageSize=500",
    );
    for (const r of reservations.items) {
      const t0 = r.jobId ? submittedAt.get(r.jobId) : undefined;
      const t1 = runningAt.get(r.id);
      if (t0 !== undefined && t1 !== undefined) latencies.push(t1 - t0);
    }
    const s = summarize(latencies);
    const done = jobs.items.filter((j) => j.status === "Finished").length - idle.length;
    return [
      {
        metric: "devices × GPUs / jobs (1 GPU each, ~200 ms each) / submitting clients",
        value: `${devices} × 4 / ${jobsN} / ${clients}`,
      },
      {
        metric: `one job at a time (${idleJobs}): submit → Running p50 / p99 (ms)`,
        value: `${summarize(idle).p50} / ${summarize(idle).p99}`,
      },
      { metric: "jobs Finished", value: `${done} of ${jobsN}` },
      {
        metric: "agent reports refused",
        value: `${reportErrors.length}${reportErrors[0] ? ` (first: ${reportErrors[0].slice(0, 160)})` : ""}`,
      },
      {
        metric: "throughput (jobs/s, first submit → last exit)",
        value: Math.round((jobsN / wallMs) * 10000) / 10,
      },
      { metric: "submit → Running: p50 / p99 / max (ms)", value: `${s.p50} / ${s.p99} / ${s.max}` },
      { metric: "placement conflicts retried", value: metrics.placement.conflicts - conflictsBefore },
    ];
  } catch (e) {
    throw new Error(`${String(e)}\nserver stderr (tail):\n${server.stderr().slice(-4000)}`);
  } finally {
    await Promise.all(agents.map((a) => a.stop()));
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}
