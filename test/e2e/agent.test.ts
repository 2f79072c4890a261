import { existsSync } from "node:fs";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentProcess, startAgentProcess } from "../helpers/agent-process.ts";
import { freePort } from "../helpers/ports.ts";
import {
  adminKeyOf,
  alive,
  apiClient,
  type ServerProcess,
  startServerProcess,
  tempDir,
} from "../helpers/processes.ts";
import { until } from "../helpers/wait.ts";

interface View {
  id: string;
  state: string;
  result?: { state: string; error: string; data: string };
}

describe("berth agent against the real server", () => {
  let server: ServerProcess;
  let agent: AgentProcess;
  let dataDir: string;
  let agentDir: string;
  let port: string;
  let admin: string;
  let token: string;
  let deviceId: string;

  const api = apiClient(
    () => server.url,
    () => admin,
  );
  const reserve = (data: Record<string, unknown>, duration = 600) =>
    api<View>("POST", "/reservations", { nodeId: deviceId, type: "process", data, duration });
  const get = (id: string) => api<View>("GET", `/reservations/${id}`);
  const resultOf = async (id: string) => {
    await until(async () => (await get(id)).result !== undefined, 20_000);
    const r = (await get(id)).result!;
    return { ...r, data: JSON.parse(r.data) as Record<string, unknown> };
  };
  const output = async (id: string) =>
    (await api<{ items: { data: string }[] }>("GET", `/reservations/${id}/output`)).items
      .map((c) => c.data)
      .join("");
  const pidOf = async (id: string) => {
    const file = join(agentDir, "workloads", id, "pid");
    // The wrapper creates the file, then writes it: an empty read means "not yet".
    const read = async () => (existsSync(file) ? Number(await readFile(file, "utf8")) : 0);
    await until(async () => (await read()) > 0, 10_000);
    return read();
  };
  const startAgent = () =>
    startAgentProcess(["--endpoint", server.url, "--token", token, "--data-dir", agentDir]);

  beforeAll(async () => {
    dataDir = await tempDir("e2e-agent");
    agentDir = await mkdtemp(join(tmpdir(), "berth-agent-"));
    port = String(await freePort());
    server = await startServerProcess(dataDir, { PORT: port, BERTH_POLL_WAIT_SECONDS: "5" });
    admin = await adminKeyOf(dataDir);
    token = (await api<{ token: string }>("POST", "/registration-tokens", { name: "e2e" })).token;
    agent = startAgent();
    await until(async () => (await api<{ items: unknown[] }>("GET", "/devices")).items.length === 1, 30_000);
    deviceId = (await api<{ items: { id: string }[] }>("GET", "/devices")).items[0]!.id;
  }, 90_000);
  afterAll(async () => {
    await agent?.stop("SIGKILL");
    await server?.stop("SIGKILL");
  });

  it("registers with keys and files only its owner can read", async () => {
    // The device is listed as soon as its login commits; the agent writes its identity when the answer arrives.
    await until(() => existsSync(join(agentDir, "identity.json")));
    const identity = JSON.parse(await readFile(join(agentDir, "identity.json"), "utf8")) as {
      machineId: string;
    };
    expect(identity.machineId).toBe(deviceId);
    const { statSync } = await import("node:fs");
    await until(() => existsSync(join(agentDir, "cursor")));
    expect(statSync(agentDir).mode & 0o777).toBe(0o700);
    for (const f of ["identity.json", "node.key", "cursor"])
      expect(statSync(join(agentDir, f)).mode & 0o777).toBe(0o600);
  });

  it("runs echo hello: result ok, exit code 0, output hello", async () => {
    const r = await reserve({ argv: ["echo", "hello"] });
    expect(await resultOf(r.id)).toMatchObject({ state: "ok", data: { exitCode: 0 } });
    await until(async () => (await output(r.id)) === "hello\n");
  });

  it("reports a non-zero exit code in the result", async () => {
    const r = await reserve({ argv: ["sh", "-c", "exit 3"] });
    expect(await resultOf(r.id)).toMatchObject({ state: "ok", data: { exitCode: 3 } });
  });

  it("reports a program that does not exist as an error, without running anything", async () => {
    const r = await reserve({ argv: ["no-such-program-berth"] });
    expect(await resultOf(r.id)).toMatchObject({
      state: "error",
      error: "executable not found: no-such-program-berth",
    });
  });

  it("stops a deleted sleep 600 within its grace period and reports deleted", async () => {
    const r = await reserve({ argv: ["sleep", "600"], stopGracePeriodSeconds: 2 });
    const pid = await pidOf(r.id);
    expect(alive(pid)).toBe(true);
    await api("DELETE", `/reservations/${r.id}`);
    await until(async () => (await get(r.id)).state === "deleted", 15_000);
    expect(alive(pid)).toBe(false);
    expect(await resultOf(r.id)).toMatchObject({ data: { exitCode: 143 } });
  });

  it("kills a reservation when it expires", async () => {
    const r = await reserve({ argv: ["sleep", "600"], stopGracePeriodSeconds: 1 }, 3);
    const pid = await pidOf(r.id);
    await until(() => !alive(pid), 15_000);
    await until(async () => (await get(r.id)).state === "deleted", 15_000);
  });

  it("never runs a workload twice when the agent is killed mid-run and restarted, and still reports it", async () => {
    const marker = join(await mkdtemp(join(tmpdir(), "berth-runs-")), "runs");
    const r = await reserve({ argv: ["sh", "-c", `echo run >> ${marker}; sleep 3; echo done`] });
    await until(() => existsSync(marker), 10_000);
    expect(await agent.stop("SIGKILL")).toBeNull();
    agent = startAgent();
    expect(await resultOf(r.id)).toMatchObject({ state: "ok", data: { exitCode: 0 } });
    expect((await readFile(marker, "utf8")).trim().split("\n")).toEqual(["run"]);
    await until(async () => (await output(r.id)) === "done\n");
  });

  it("reconnects after a server restart and misses nothing", async () => {
    expect(await server.stop("SIGTERM")).toBe(0);
    server = await startServerProcess(dataDir, { PORT: port, BERTH_POLL_WAIT_SECONDS: "5" });
    const r = await reserve({ argv: ["echo", "after restart"] });
    expect(await resultOf(r.id)).toMatchObject({ state: "ok", data: { exitCode: 0 } });
  }, 60_000);

  it("logs in again, signed with its key, when restarted with --refresh-session-token", async () => {
    await agent.stop("SIGTERM");
    const before = JSON.parse(await readFile(join(agentDir, "identity.json"), "utf8")) as {
      sessionToken: string;
    };
    agent = startAgentProcess([
      "--endpoint",
      server.url,
      "--token",
      token,
      "--data-dir",
      agentDir,
      "--refresh-session-token",
    ]);
    await until(async () => {
      const now = JSON.parse(await readFile(join(agentDir, "identity.json"), "utf8")) as {
        sessionToken: string;
      };
      return now.sessionToken !== before.sessionToken;
    }, 20_000);
    const r = await reserve({ argv: ["echo", "after relogin"] });
    expect(await resultOf(r.id)).toMatchObject({ state: "ok", data: { exitCode: 0 } });
  }, 60_000);

  it("stops with the revocation message when its device is deleted", async () => {
    await fetch(`${server.url}/api/v1/devices/${deviceId}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(await agent.exited).toBe(2);
    expect(agent.stderr()).toContain("this device was deleted or its session revoked");
  }, 60_000);
});
