/**
 * bench/labs: many users spawning their labs at once (specs/labs.md). One `berth server` (a child process,
 * as `npm start` runs it) and N simulated agents long-polling it; each agent, when a lab's reservation arrives,
 * reports it running on a host port and then ready (what the real agent does once the container answers its
 * probe). Measures, for U users spawning at once: each spawn request's latency, the time until every lab is
 * `running`, and the storage requests per lab (the fleet's idle polling over the same time taken off); then
 * the same for deleting them all.
 *
 * Run: npm run bench -- labs   (BENCH_ENGINE sqlite, BENCH_AGENTS 50, BENCH_USERS 200)
 */
import { generateKeyPairSync } from "node:crypto";
import type { AgentReservation } from "../shared/contracts/reservations.ts";
import { publicKeyToBase64 } from "../shared/domain/signing.ts";
import { HttpAgent } from "../test/helpers/http-agent.ts";
import { load, loadKnobs, round, sleep, summarize } from "./lib.ts";
import { reportStatus, startServers } from "./servers.ts";

const HOLD = 20;

export async function benchLabs() {
  const { engine, agentsN } = loadKnobs({ agents: 50, reservations: 0, clients: 1, rate: 0 });
  const usersN = Number(process.env.BENCH_USERS ?? 200);
  const bench = await startServers("bench-labs", engine, 1, () => ({
    BERTH_POLL_WAIT_SECONDS: String(HOLD),
  }));
  const agents: HttpAgent[] = [];
  const rows: Record<string, string | number>[] = [];
  try {
    const server = bench.servers[0]!;
    const probe = bench.probe(server);
    await load(agentsN, 16, async () => {
      const { publicKey } = generateKeyPairSync("x25519");
      agents.push(
        await HttpAgent.register(server.url, bench.registrationToken, {
          encryptionKey: publicKeyToBase64(publicKey),
          machineInfo: { hostname: "gpu", containerRuntimeVersion: "docker://27.3.1" },
        }),
      );
    });
    const reports: Promise<void>[] = [];
    let port = 30000;
    for (const a of agents) {
      await a.pollOnce(0);
      a.onApply = (r: AgentReservation) => {
        if (r.type !== "container") return;
        // A delete's stop: the lab exits, and its result goes in (as the agent sends it).
        if (r.control?.action === "stop") {
          reports.push(a.result(r.id, "ok", { exitCode: 143, stoppedBy: "stop" }));
          return;
        }
        if (r.control) return;
        const hostPort = port++;
        reports.push(
          reportStatus(server.url, a, r.id, { state: "running", hostPort }).then(() =>
            reportStatus(server.url, a, r.id, { state: "ready", hostPort }),
          ),
        );
      };
      a.start(HOLD);
    }
    await bench.api("POST", "/profiles", {
      name: "small",
      limits: [
        { type: "cpuCount", value: "1" },
        { type: "memory", value: "1024" },
      ],
    });
    await bench.api("PUT", "/labs/config", {
      queues: [],
      sizes: ["small"],
      defaultSize: "small",
      images: { recommended: "ghcr.io/acme/lab:1", prepull: { enabled: false } },
    });
    await bench.api("PUT", "/quotas", { maxRunningJobs: usersN * 2 });
    const keys: string[] = [];
    await load(usersN, 16, async (i) => {
      keys[i] = (
        await bench.api<{ key: string }>("POST", "/api-keys", { name: `user-${i}`, role: "member" })
      ).key;
    });
    await sleep(2000);
    const idle0 = await probe.storageTotal();
    const idleMs = 10_000;
    await sleep(idleMs);
    const idlePerMs = ((await probe.storageTotal()) - idle0) / idleMs;

    const as = (key: string) => async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${server.url}/api/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
      return res.json();
    };
    const count = async (status: string) =>
      (await bench.api<{ items: unknown[] }>("GET", `/labs?status=${status}&pageSize=500`)).items.length;
    const step = async (
      label: string,
      each: (i: number) => Promise<unknown>,
      done: () => Promise<boolean>,
    ) => {
      const before = await probe.storageTotal();
      const t0 = performance.now();
      const { latencies } = await load(usersN, 32, async (i) => {
        await each(i);
      });
      while (!(await done())) await sleep(200);
      const ms = performance.now() - t0;
      await Promise.all(reports.splice(0));
      const requests = (await probe.storageTotal()) - before - idlePerMs * ms;
      const lat = summarize(latencies);
      rows.push({
        step: label,
        labs: usersN,
        devices: agentsN,
        "request p50 ms": lat.p50,
        "request p99 ms": lat.p99,
        "seconds until all done": round(ms / 1000),
        "storage requests per lab": round(requests / usersN),
      });
    };
    await step(
      "spawn → running",
      (i) => as(keys[i]!)("POST", "/labs", { options: { imageClass: "recommended", size: "small" } }),
      async () => (await count("running")) === usersN,
    );
    await step(
      "delete → gone",
      (i) => as(keys[i]!)("DELETE", `/labs/user-${i}`),
      async () => (await bench.api<{ items: unknown[] }>("GET", "/labs?pageSize=500")).items.length === 0,
    );
  } finally {
    await load(agents.length, 64, async (i) => agents[i]!.stop());
    await bench.stop();
  }
  return rows;
}
