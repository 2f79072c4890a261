/**
 * bench/agent: a real agent (dist/berth-agent.mjs, the bundle GPU machines install) against the local server
 * (child processes both). Reports what a node downloads, the time from start to the first held poll, the
 * agent's idle RSS and CPU over 60 s of long-polling, and the time from a reservation being created (request
 * sent) to its process starting (the process prints its start time), over 200 reservations.
 * Run: npm run bench -- agent
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AGENT_NODE_FLAGS } from "../shared/app/install-script.ts";
import { AGENT_BIN, startAgentProcess } from "../test/helpers/agent-process.ts";
import { freePort } from "../test/helpers/ports.ts";
import { adminKeyOf, apiClient, startServerProcess, tempDir } from "../test/helpers/processes.ts";
import { summarize } from "./lib.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const TICKS_PER_SECOND = 100; // Linux USER_HZ

/** RSS (bytes) and CPU time (s) of a process, from /proc. */
async function usage(pid: number) {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const cpu = (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  return { rss: rssKb * 1024, cpu };
}

export async function benchAgent() {
  const idleSeconds = Number(process.env.BENCH_IDLE_SECONDS ?? 60);
  const dataDir = await tempDir("bench-agent");
  const agentDir = await mkdtemp(join(tmpdir(), "berth-bench-agent-"));
  const operator = randomBytes(32).toString("hex");
  const server = await startServerProcess(dataDir, {
    PORT: String(await freePort()),
    BERTH_OPERATOR_TOKEN: operator,
  });
  const admin = await adminKeyOf(dataDir);
  const api = apiClient(
    () => server.url,
    () => admin,
  );
  const waiting = async () =>
    (
      await apiClient(
        () => server.url,
        () => operator,
      )<{ polls: { waiting: number } }>("GET", "/metrics")
    ).polls.waiting;
  const { token } = await api<{ token: string }>("POST", "/registration-tokens", { name: "bench" });
  const bundleBytes = (await stat(AGENT_BIN)).size;
  const spawned = performance.now();
  // The flags install.sh's unit runs it with; BENCH_AGENT_NODE_FLAGS="" (or others) to compare.
  const flags = (process.env.BENCH_AGENT_NODE_FLAGS ?? AGENT_NODE_FLAGS).split(" ").filter(Boolean);
  const agent = startAgentProcess(
    ["--endpoint", server.url, "--data-dir", agentDir],
    { BERTH_TOKEN: token },
    flags,
  );
  try {
    // Registered (keys made, logged in), booted (boot sync), and its next poll held by the server.
    while ((await waiting()) < 1) await sleep(5);
    const firstPollMs = performance.now() - spawned;
    const deviceId = (await api<{ items: { id: string }[] }>("GET", "/devices")).items[0]!.id;
    await sleep(5000); // settle after start-up
    const pid = agent.child.pid!;
    const idle0 = await usage(pid);
    await sleep(idleSeconds * 1000);
    const idle1 = await usage(pid);

    const sent = new Map<string, number>();
    for (let i = 0; i < 200; i++) {
      const t0 = Date.now();
      const r = await api<{ id: string }>("POST", "/reservations", {
        nodeId: deviceId,
        type: "process",
        data: { argv: ["sh", "-c", "date +%s%3N"] },
        duration: 600,
      });
      sent.set(r.id, t0);
      await sleep(50);
    }
    const started: number[] = [];
    for (const [id, t0] of sent) {
      let text = "";
      for (let tries = 0; tries < 100 && !text; tries++) {
        const out = await api<{ items: { data: string }[] }>("GET", `/reservations/${id}/output`);
        text = out.items
          .map((c) => c.data)
          .join("")
          .trim();
        if (!text) await sleep(100);
      }
      if (text) started.push(Number(text) - t0);
    }
    const s = summarize(started);
    const busy = await usage(pid);
    return [
      {
        metric: "what a node downloads: dist/berth-agent.mjs (MB), no node_modules",
        value: (bundleBytes / 1e6).toFixed(2),
      },
      { metric: "start (first start: keys, login) → first poll held (ms)", value: Math.round(firstPollMs) },
      { metric: "agent RSS while idle (MiB)", value: Math.round(idle1.rss / 2 ** 20) },
      {
        metric: `agent CPU over ${idleSeconds} s idle (s, % of one core)`,
        value: `${(idle1.cpu - idle0.cpu).toFixed(2)} s, ${(((idle1.cpu - idle0.cpu) / idleSeconds) * 100).toFixed(2)} %`,
      },
      {
        metric: "reservation created → process started: p50 / p99 / max (ms)",
        value: `${s.p50} / ${s.p99} / ${s.max}`,
      },
      { metric: "processes started (of 200)", value: started.length },
      { metric: "agent RSS after 200 processes (MiB)", value: Math.round(busy.rss / 2 ** 20) },
    ];
  } finally {
    await agent.stop();
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
    await rm(agentDir, { recursive: true, force: true });
  }
}
