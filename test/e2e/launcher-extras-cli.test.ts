import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentProcess, startAgentProcess } from "../helpers/agent-process.ts";
import { runCli, type ServerProcess, startServerProcess, tempDir } from "../helpers/processes.ts";
import { until } from "../helpers/wait.ts";

/** `berth cluster info`, `berth cluster config` and `berth jobs network` against a real server and agent. */
describe("cluster info, cluster config and job network through the CLI", () => {
  let server: ServerProcess;
  let agent: AgentProcess;
  let dataDir: string;
  const cli = (args: string[]) => runCli(["--endpoint", server.url, ...args], { BERTH_DATA_DIR: dataDir });
  const json = async <T>(args: string[]) => {
    const out = await cli([...args, "-o", "json"]);
    expect(out.code, out.stderr).toBe(0);
    return JSON.parse(out.stdout) as T;
  };

  beforeAll(async () => {
    dataDir = await tempDir("e2e-launcher-extras");
    server = await startServerProcess(dataDir, { BERTH_POLL_WAIT_SECONDS: "5" });
    const { token } = await json<{ token: string }>(["tokens", "create", "--name", "box"]);
    const agentDir = await mkdtemp(join(tmpdir(), "berth-agent-"));
    agent = startAgentProcess([
      "--endpoint",
      server.url,
      "--token",
      token,
      "--data-dir",
      agentDir,
      "--gpu-count",
      "1",
      "--runtime",
      "process",
    ]);
    await until(async () => (await json<unknown[]>(["devices", "list"])).length === 1, 30_000);
  }, 90_000);
  afterAll(async () => {
    await agent?.stop("SIGKILL");
    await server?.stop("SIGKILL");
  });

  it("shows cluster info as JSON (the Launcher's keys and berth) and as lines", async () => {
    const info = await json<Record<string, unknown>>(["cluster", "info"]);
    expect(info).toMatchObject({
      supportsInitContainers: false,
      queues: ["default"],
      images: [],
      allowUnknownImages: true,
      berth: { targets: ["fleet", "cloud", "auto"], maxDurationSeconds: 2592000 },
    });
    const text = await cli(["cluster", "info"]);
    expect(text.stdout).toMatch(/^queues:\s+default$/m);
    expect(text.stdout).toMatch(/^resourceLimits:\s+cpuCount≤\d+, memory≤\d+, memorySwap≤\d+$/m);
  }, 60_000);

  it("sets the image list, refuses other images at submit, and keeps fields a set leaves out", async () => {
    const set = await json<{ images: string[]; revision: number }>([
      "cluster",
      "config",
      "set",
      "--image",
      "busybox",
      "--image",
      "alpine:3",
      "--allow-unknown-images=false",
    ]);
    expect(set).toMatchObject({ images: ["busybox", "alpine:3"], allowUnknownImages: false, revision: 1 });
    const refused = await cli(["run", "--image", "ubuntu", "-d", "--", "true"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("image ubuntu is not allowed here; allowed: busybox, alpine:3");
    expect(await json(["cluster", "config", "set", "--default-image", "busybox"])).toMatchObject({
      images: ["busybox", "alpine:3"],
      defaultImage: "busybox",
      allowUnknownImages: false,
      revision: 2,
    });
    const bad = await cli(["cluster", "config", "set", "--allow-unknown-images", "maybe"]);
    expect(bad.code).toBe(2);
    expect(await json(["cluster", "config", "get"])).toMatchObject({ revision: 2 });
    expect(await json(["cluster", "config", "set", "--allow-unknown-images=true"])).toMatchObject({
      allowUnknownImages: true,
    });
  }, 60_000);

  it("shows where a running job is (HOST IPS ENDPOINTS), and says when it is not running", async () => {
    const run = await cli(["run", "-d", "--", "sleep", "60"]);
    const id = run.stdout.trim();
    await until(
      async () => (await json<{ status: string }>(["jobs", "get", id])).status === "Running",
      30_000,
    );
    const table = await cli(["jobs", "network", id]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^HOST\s+IPS\s+ENDPOINTS$/m);
    const net = await json<{ host: string; ipAddresses: string[]; berth: { target: string } }>([
      "jobs",
      "network",
      id,
    ]);
    expect(net.host).not.toBe("");
    expect(net.berth).toMatchObject({ target: "fleet", partial: false });
    expect(table.stdout.split("\n")[1]).toContain(net.host);
    expect((await cli(["jobs", "kill", id])).code).toBe(0);
    await until(
      async () => (await json<{ status: string }>(["jobs", "get", id])).status === "Killed",
      30_000,
    );
    const ended = await cli(["jobs", "network", id]);
    expect(ended.code).toBe(1);
    expect(ended.stderr).toContain("The job is not currently running");
  }, 90_000);
});
