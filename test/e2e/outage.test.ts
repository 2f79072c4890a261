import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentProcess, startAgentProcess } from "../helpers/agent-process.ts";
import { type AgentProxy, agentProxy } from "../helpers/agent-proxy.ts";
import { freePort } from "../helpers/ports.ts";
import {
  adminKeyOf,
  apiClient,
  type ServerProcess,
  startServerProcess,
  tempDir,
} from "../helpers/processes.ts";
import { until } from "../helpers/wait.ts";

/**
 * Issue 12, finding 1: a control-plane outage longer than twice the device TTL used to fail quiet running
 * jobs on healthy nodes (NodeLost) as soon as the server was back, and the agent then decommissioned them.
 */
describe("a control-plane outage", () => {
  const TTL = "2";
  let dataDir: string;
  let port: string;
  let server: ServerProcess;
  let proxy: AgentProxy;
  let agent: AgentProcess;
  let admin: string;
  const env = () => ({ PORT: port, BERTH_DEVICE_TTL_SECONDS: TTL, BERTH_POLL_WAIT_SECONDS: "1" });
  const api = apiClient(
    () => server.url,
    () => admin,
  );
  const jobOf = (id: string) =>
    api<{ status: string; statusCode?: string; exitCode?: number }>("GET", `/jobs/${id}`);

  beforeAll(async () => {
    dataDir = await tempDir("e2e-outage");
    port = String(await freePort());
    server = await startServerProcess(dataDir, env());
    admin = await adminKeyOf(dataDir);
    proxy = await agentProxy(server.url);
    const { token } = await api<{ token: string }>("POST", "/registration-tokens", { name: "outage" });
    const agentDir = await mkdtemp(join(tmpdir(), "berth-agent-"));
    agent = startAgentProcess([
      "--endpoint",
      proxy.url,
      "--token",
      token,
      "--data-dir",
      agentDir,
      "--runtime",
      "process",
    ]);
    await until(async () => (await api<{ items: unknown[] }>("GET", "/devices")).items.length === 1, 60_000);
  }, 120_000);
  afterAll(async () => {
    await agent?.stop("SIGKILL");
    await proxy?.close();
    await server?.stop("SIGKILL");
  });

  it("longer than twice the device TTL does not fail a quiet running job: it runs on and ends Finished", async () => {
    const gate = join(await mkdtemp(join(tmpdir(), "berth-gate-")), "go");
    const { id } = await api<{ id: string }>("POST", "/jobs", {
      command: `while [ ! -e ${gate} ]; do sleep 0.2; done; echo done`,
    });
    await until(async () => (await jobOf(id)).status === "Running", 30_000);

    // The control plane goes away (and the agent cannot reach it), for well over 2 × the TTL.
    proxy.intercept = () => ({ status: 503, body: { error: { code: "Unavailable", message: "down" } } });
    await server.stop("SIGTERM");
    await sleep(6_000);
    server = await startServerProcess(dataDir, env());
    // Back, but the agent has not got through yet: the restarted server's sweeps (every 5 s) find the device
    // silent for longer than 2 × the TTL.
    await sleep(7_000);
    expect(await jobOf(id)).toMatchObject({ status: "Running" });

    proxy.intercept = undefined;
    await until(
      async () =>
        (await api<{ items: { status: string }[] }>("GET", "/devices")).items[0]?.status === "online",
      60_000,
    );
    await writeFile(gate, "");
    await until(async () => (await jobOf(id)).status !== "Running", 60_000);
    expect(await jobOf(id)).toMatchObject({ status: "Finished", exitCode: 0 });
    const out = await api<{ output: { data: string }[] }>("GET", `/jobs/${id}/output`);
    expect(out.output.map((l) => l.data).join("")).toBe("done\n");
  }, 180_000);
});
