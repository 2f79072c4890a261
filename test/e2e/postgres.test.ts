import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { onEngine } from "../helpers/engines.ts";
import { HttpAgent } from "../helpers/http-agent.ts";
import { freshDatabase, startTestPostgres, type TestPostgres } from "../helpers/postgres.ts";
import {
  adminKeyOf,
  apiClient,
  runCli,
  type ServerProcess,
  startServerProcess,
  tempDir,
} from "../helpers/processes.ts";
import { until } from "../helpers/wait.ts";

onEngine("postgres", "two berth servers on one PostgreSQL database", () => {
  let a: ServerProcess;
  let b: ServerProcess;
  let admin: string;
  const agents: HttpAgent[] = [];
  beforeAll(async () => {
    const database = await freshDatabase(inject("postgres").url!);
    const dirA = await tempDir("e2e-pg-a");
    // Polls wait up to two minutes: a delivery within the test's time can only be a wake-up.
    const env = { BERTH_DATABASE_URL: database, BERTH_POLL_WAIT_SECONDS: "120" };
    a = await startServerProcess(dirA, env);
    b = await startServerProcess(await tempDir("e2e-pg-b"), env);
    admin = await adminKeyOf(dirA);
  }, 90_000);
  afterAll(async () => {
    await Promise.all(agents.map((x) => x.stop()));
    await a?.stop("SIGKILL");
    await b?.stop("SIGKILL");
  });

  it("delivers a reservation created through one server to agents polling the other, once each, signed", async () => {
    expect(a.stderr()).toContain("storage:   postgres");
    // The second server found the workspace and the root secret the first one made.
    expect(b.stderr()).not.toContain("admin key: berth_sk_");
    const onA = apiClient(
      () => a.url,
      () => admin,
    );
    const token = (await onA<{ token: string }>("POST", "/registration-tokens", { name: "pg" })).token;
    for (let i = 0; i < 3; i++) agents.push(await HttpAgent.register(b.url, token));
    for (const agent of agents) agent.start(120);
    // Let every agent's poll reach its wait on B, so a wake-up has to cross processes.
    await until(() => agents.every((x) => x.polls >= 1));
    const created: string[] = [];
    for (let i = 0; i < 30; i++) {
      const target = agents[i % agents.length]!;
      const r = await onA<{ id: string }>("POST", "/reservations", {
        nodeId: target.deviceId,
        type: "debug",
        data: { i },
        duration: 600,
      });
      created.push(r.id);
    }
    // The polls on B were woken by A's writes (LISTEN/NOTIFY): none waited out its two minutes.
    await until(() => agents.reduce((n, x) => n + x.deliveries.size, 0) === created.length, 30_000);
    for (const agent of agents) {
      expect(agent.badSignatures).toBe(0);
      for (const count of agent.deliveries.values()) expect(count).toBe(1);
    }
    // And the other way round: B's writes reach A's list.
    const onB = apiClient(
      () => b.url,
      () => admin,
    );
    const listed = await onB<{ items: { id: string }[] }>("GET", "/reservations?pageSize=500");
    expect(listed.items.map((r) => r.id)).toEqual(expect.arrayContaining(created));
  }, 60_000);

  it("refuses a deleted device's session on the other server at once", async () => {
    const agent = agents[0]!;
    await agent.stop();
    // B has just verified (and cached) this agent's session.
    const poll = () =>
      fetch(`${b.url}/api/v1/agent/reservations?from=${agent.cursor}&wait=0`, {
        headers: { authorization: `Bearer ${agent.session}` },
      });
    expect((await poll()).status).toBe(200);
    const deleted = await fetch(`${a.url}/api/v1/devices/${agent.deviceId}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(deleted.status).toBe(204);
    // Within the cache's TTL (30 s): the revocation reached B, which forgot the session.
    await until(async () => (await poll()).status === 401, 5_000);
  });
});

onEngine("postgres", "a PostgreSQL server that goes away and comes back", () => {
  // This test stops and starts its own server, so it cannot use a server given by BERTH_TEST_DATABASE_URL.
  const own = !process.env.BERTH_TEST_DATABASE_URL;
  if (!own)
    console.warn(
      "[postgres] BERTH_TEST_DATABASE_URL is set: skipping the outage test (it needs its own server)",
    );
  let pg: TestPostgres;
  let server: ServerProcess;
  let dataDir: string;
  beforeAll(async () => {
    if (!own) return;
    pg = await startTestPostgres();
    dataDir = await tempDir("e2e-pg-outage");
    server = await startServerProcess(dataDir, { BERTH_DATABASE_URL: await freshDatabase(pg.url) });
  }, 90_000);
  afterAll(async () => {
    await server?.stop("SIGKILL");
    await pg?.stop();
  });

  it.skipIf(!own)(
    "answers 503 Unavailable with Retry-After while it is away, keeps running, and recovers by itself",
    async () => {
      const admin = await adminKeyOf(dataDir);
      const keys = () =>
        fetch(`${server.url}/api/v1/api-keys`, { headers: { authorization: `Bearer ${admin}` } });
      expect((await keys()).status).toBe(200);
      pg.pause!();
      const away = await keys();
      expect(away.status).toBe(503);
      expect(away.headers.get("retry-after")).toBe("2");
      const body = (await away.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe("Unavailable");
      expect(body.error.message).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|postgres:/);
      expect(server.child.exitCode).toBeNull();
      pg.resume!();
      await until(async () => (await keys()).status === 200, 20_000);
      expect(server.child.exitCode).toBeNull();
    },
    60_000,
  );
});

describe("an unreadable BERTH_DATABASE_URL", () => {
  it("is one clear line and exit 2", async () => {
    const res = await runCli(["server"], {
      BERTH_DATABASE_URL: "mysql://root:hunter2@db/berth",
      BERTH_DATA_DIR: await tempDir("e2e-badurl"),
    });
    expect(res.code).toBe(2);
    const lines = res.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain("BERTH_DATABASE_URL");
    expect(res.stderr).not.toContain("hunter2");
  });
});
