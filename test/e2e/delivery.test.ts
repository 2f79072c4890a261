import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { HttpAgent } from "../helpers/http-agent.ts";
import { freePort } from "../helpers/ports.ts";
import { runCli, type ServerProcess, startServerProcess, tempDir } from "../helpers/processes.ts";
import { until } from "../helpers/wait.ts";

const AGENTS = 5;
const PER_PHASE = 20;

describe("reservation delivery through the real server, across a restart", () => {
  let server: ServerProcess | undefined;
  const agents: HttpAgent[] = [];
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await server?.stop("SIGKILL");
  });

  it("delivers every reservation exactly once, signed, to the right device", async () => {
    const dataDir = await tempDir("e2e-delivery");
    const port = String(await freePort());
    server = await startServerProcess(dataDir, { PORT: port });
    const admin = (await readFile(join(dataDir, "admin-key"), "utf8")).trim();
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${server!.url}/api/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
      return (await res.json()) as Record<string, unknown>;
    };
    const token = (await call("POST", "/registration-tokens", { name: "e2e" })).token as string;
    for (let i = 0; i < AGENTS; i++) agents.push(await HttpAgent.register(server.url, token));
    for (const a of agents) a.start(5);

    const expected = new Map<string, string>(); // reservation id → device id
    const createPhase = async (phase: number) => {
      for (let i = 0; i < PER_PHASE; i++) {
        const target = agents[i % AGENTS]!;
        const r = await call("POST", "/reservations", {
          nodeId: target.deviceId,
          type: "debug",
          data: { phase, i },
          duration: 3600,
        });
        expected.set(r.id as string, target.deviceId);
      }
    };
    const allDelivered = async () => {
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        const got = agents.reduce((n, a) => n + a.deliveries.size, 0);
        if (got >= expected.size) return;
        await new Promise((r) => setTimeout(r, 50));
      }
    };

    await createPhase(1);
    await allDelivered();

    // Restart while every agent's poll is waiting: they resume from their cursors.
    expect(await server.stop("SIGTERM")).toBe(0);
    server = await startServerProcess(dataDir, { PORT: port });
    await createPhase(2);
    await allDelivered();

    for (const a of agents) {
      for (const [id, count] of a.deliveries) {
        expect(count, `reservation ${id} delivered ${count} times`).toBe(1);
        expect(expected.get(id)).toBe(a.deviceId);
      }
      expect(a.badSignatures).toBe(0);
    }
    const delivered = new Set(agents.flatMap((a) => [...a.deliveries.keys()]));
    expect(delivered.size).toBe(2 * PER_PHASE);
    expect([...expected.keys()].every((id) => delivered.has(id))).toBe(true);

    // The CLI shows them as delivered.
    await until(async () => {
      const listed = await runCli(
        ["--endpoint", server!.url, "reservations", "list", "--state", "delivered", "-o", "json"],
        { BERTH_DATA_DIR: dataDir },
      );
      return (JSON.parse(listed.stdout) as unknown[]).length === 2 * PER_PHASE;
    }, 20_000);
  }, 120_000);
});
