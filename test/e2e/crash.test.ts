import { afterAll, describe, expect, inject, it } from "vitest";
import type { AgentReservation, PollResponse } from "../../shared/contracts/reservations.ts";
import { type EngineName, onEngine } from "../helpers/engines.ts";
import { HttpAgent } from "../helpers/http-agent.ts";
import { freePort } from "../helpers/ports.ts";
import { freshDatabase } from "../helpers/postgres.ts";
import {
  adminKeyOf,
  apiClient,
  type ServerProcess,
  startServerProcess,
  tempDir,
} from "../helpers/processes.ts";

const LOGINS = 60;
const CAP = 40;
const SUBMITS = 60;
const QUOTA = 45;
const CREATES = 80;
/** The server is killed once this many of the burst's requests have been answered. */
const KILL_AFTER = 70;

/** Every entry of a device's feed from 1, read the way an agent reads it (no waiting). */
async function wholeFeed(url: string, session: string): Promise<AgentReservation[]> {
  const all: AgentReservation[] = [];
  let from = 1;
  for (;;) {
    const res = await fetch(`${url}/api/v1/agent/reservations?from=${from}&wait=0`, {
      headers: { authorization: `Bearer ${session}` },
    });
    const body = (await res.json()) as PollResponse;
    if (body.next === from || body.next === 0) return all;
    all.push(...body.reservations);
    from = body.next;
  }
}

/**
 * `kill -9` in the middle of a burst of writes of every kind that must stay consistent, then a restart:
 * the counters that transactions keep (registrations, group members, quota use) must equal what they count,
 * and every device's feed must hold each of its reservations exactly once.
 */
function crashSuite(engine: EngineName) {
  let server: ServerProcess | undefined;
  afterAll(async () => {
    await server?.stop("SIGKILL");
  });

  it("kill -9 during logins, submits and creates loses nothing and leaves every count exact", async () => {
    const dataDir = await tempDir(`e2e-crash-${engine}`);
    const env: Record<string, string> = { PORT: String(await freePort()) };
    if (engine === "postgres") env.BERTH_DATABASE_URL = await freshDatabase(inject("postgres").url!);
    server = await startServerProcess(dataDir, env);
    const admin = await adminKeyOf(dataDir);
    const api = apiClient(
      () => server!.url,
      () => admin,
    );

    const capped = await api<{ id: string; token: string }>("POST", "/registration-tokens", {
      name: "capped",
      maxRegistrations: CAP,
    });
    const open = await api<{ token: string }>("POST", "/registration-tokens", { name: "open" });
    const agents = await Promise.all(
      Array.from({ length: 4 }, () => HttpAgent.register(server!.url, open.token)),
    );
    await api("PUT", "/quotas", { maxRunningJobs: QUOTA });

    // The burst: every request is sent; the server dies after KILL_AFTER answers.
    let answered = 0;
    let cut = 0;
    const createdOk = new Set<string>();
    const send = async (path: string, init: RequestInit) => {
      try {
        const res = await fetch(`${server!.url}${path}`, init);
        const body = (await res.json().catch(() => ({}))) as { id?: string };
        if (res.status === 201 && path === "/api/v1/reservations" && body.id) createdOk.add(body.id);
      } catch {
        cut++; // the server died with this request in flight, or before it was sent
      }
      answered++;
    };
    const headers = { authorization: `Bearer ${admin}`, "content-type": "application/json" };
    const burst = [
      ...Array.from({ length: LOGINS }, (_, i) =>
        send("/api/v1/login", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            token: capped.token,
            nodeGroup: "default",
            machineInfo: { hostname: `crash-${i}` },
          }),
        }),
      ),
      ...Array.from({ length: SUBMITS }, (_, i) =>
        send("/api/v1/jobs", {
          method: "POST",
          headers,
          body: JSON.stringify({ name: `j${i}`, exe: "true", gpus: { count: 1 } }),
        }),
      ),
      ...Array.from({ length: CREATES }, (_, i) =>
        send("/api/v1/reservations", {
          method: "POST",
          headers,
          body: JSON.stringify({
            nodeId: agents[i % agents.length]!.deviceId,
            type: "debug",
            data: { i },
            duration: 3600,
          }),
        }),
      ),
    ];
    const killed = (async () => {
      while (answered < KILL_AFTER) await new Promise((r) => setTimeout(r, 2));
      await server!.stop("SIGKILL");
    })();
    await Promise.all([...burst, killed]);
    // The kill really came mid-burst: some requests were answered, others never were.
    expect(cut).toBeGreaterThan(0);
    expect(answered - cut).toBeGreaterThanOrEqual(KILL_AFTER);

    server = await startServerProcess(dataDir, env);
    type Device = { id: string; registrationTokenId: string; nodeGroup: string };
    const devices: Device[] = [];
    for (let cursor = ""; ; ) {
      const page = await api<{ items: Device[]; nextPageToken?: string }>(
        "GET",
        `/devices?pageSize=500${cursor}`,
      );
      devices.push(...page.items);
      if (!page.nextPageToken) break;
      cursor = `&pageToken=${page.nextPageToken}`;
    }
    const token = await api<{ deviceCount: number }>("GET", `/registration-tokens/${capped.id}`);
    const viaCapped = devices.filter((d) => d.registrationTokenId === capped.id).length;
    expect(token.deviceCount).toBe(viaCapped);
    expect(viaCapped).toBeLessThanOrEqual(CAP);
    const group = await api<{ deviceCount: number }>("GET", "/node-groups/default");
    expect(group.deviceCount).toBe(devices.length);

    type Job = { id: string; status: string; gpus: { count: number } };
    const jobs = (await api<{ items: Job[] }>("GET", "/jobs?user=*&pageSize=500")).items;
    const unfinished = jobs.filter((j) => ["Pending", "Running", "Suspended"].includes(j.status));
    const quota = await api<{ use: { runningJobs: number; gpus: number } }>("GET", "/quotas");
    expect(quota.use.runningJobs).toBe(unfinished.length);
    expect(quota.use.gpus).toBe(unfinished.reduce((n, j) => n + j.gpus.count, 0));
    expect(jobs.length).toBeLessThanOrEqual(QUOTA);

    type Res = { id: string; nodeId: string };
    const reservations: Res[] = [];
    for (let cursor = ""; ; ) {
      const page = await api<{ items: Res[]; nextPageToken?: string }>(
        "GET",
        `/reservations?pageSize=500${cursor}`,
      );
      reservations.push(...page.items);
      if (!page.nextPageToken) break;
      cursor = `&pageToken=${page.nextPageToken}`;
    }
    // Every create that was answered 201 is there.
    for (const id of createdOk) expect(reservations.map((r) => r.id)).toContain(id);
    for (const agent of agents) {
      agent.endpoint = server.url;
      const feed = (await wholeFeed(server.url, agent.session)).filter((r) => !r.toDelete && !r.control);
      const counts = new Map<string, number>();
      for (const r of feed) counts.set(r.id, (counts.get(r.id) ?? 0) + 1);
      const mine = reservations.filter((r) => r.nodeId === agent.deviceId).map((r) => r.id);
      expect([...counts.keys()].sort()).toEqual([...mine].sort());
      expect([...counts.values()].every((n) => n === 1)).toBe(true);
    }
  }, 180_000);
}

describe("a crash of the server mid-burst", () => crashSuite("sqlite"));
onEngine("postgres", "a crash of the server mid-burst", () => crashSuite("postgres"));
