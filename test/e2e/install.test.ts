import { spawn, spawnSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AGENT_NODE_FLAGS } from "../../shared/app/install-script.ts";
import { type AgentProcess, agentProcessOf } from "../helpers/agent-process.ts";
import { type TestApp, testApp } from "../helpers/app.ts";
import { createToken } from "../helpers/fleet.ts";
import { tempDir } from "../helpers/processes.ts";
import { until } from "../helpers/wait.ts";

/**
 * Runs `curl -fsSL <url>/install.sh | <env> sh -s -- <args>` as a GPU machine would (here into a temporary
 * root). Asynchronously: the control plane answering it runs in this process.
 */
function runInstaller(url: string, args: string[], env: Record<string, string> = {}) {
  const quoted = args.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(" ");
  const child = spawn("sh", ["-c", `curl -fsSL '${url}/install.sh' | sh -s -- ${quoted}`], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => {
    stderr += d;
  });
  return new Promise<{ code: number | null; stderr: string }>((resolve) =>
    child.once("close", (code) => resolve({ code, stderr })),
  );
}

/** The env file as systemd reads it: KEY=value lines, a value maybe in single quotes. */
function envFile(path: string): Record<string, string> {
  return Object.fromEntries(
    readFileSync(path, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((line) => {
        const i = line.indexOf("=");
        return [line.slice(0, i), line.slice(i + 1).replace(/^'(.*)'$/, "$1")];
      }),
  );
}

describe("install.sh: a GPU machine joins with one command", () => {
  let t: TestApp;
  let http: Server;
  let url: string;
  let agent: AgentProcess | undefined;
  beforeAll(async () => {
    t = await testApp();
    http = await new Promise<Server>((resolve) => {
      const s = serve({ fetch: t.app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s as Server));
    });
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await agent?.stop("SIGKILL");
    http.closeAllConnections();
    http.close();
  });

  /** The installed agent, started as the unit starts it: its env file, its data dir (no systemd here). */
  const startInstalled = (root: string): AgentProcess => {
    const env = envFile(join(root, "etc/berth/agent.env"));
    const child = spawn(
      process.execPath,
      [
        AGENT_NODE_FLAGS,
        join(root, "opt/berth-agent/berth-agent.mjs"),
        "--data-dir",
        join(root, "var/lib/berth-agent"),
      ],
      {
        env: { PATH: process.env.PATH, ...env, BERTH_AGENT_RUNTIME: "process" },
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    return agentProcessOf(child);
  };

  it("installs the verified agent and a root-only token file; the agent registers from them; a second run upgrades in place", async () => {
    const { token } = await createToken(t);
    const root = await tempDir("install-root");
    const first = await runInstaller(url, ["--root", root, "--node-labels", '{"rack":"r1"}'], {
      BERTH_TOKEN: token,
    });
    expect(first, first.stderr).toMatchObject({ code: 0 });
    const installed = await readFile(join(root, "opt/berth-agent/berth-agent.mjs"));
    expect(installed.equals(Buffer.from((await t.deps.agentBundle())!.bytes))).toBe(true);
    // The token is in a file only root reads, never on a command line.
    const envPath = join(root, "etc/berth/agent.env");
    expect(statSync(envPath).mode & 0o777).toBe(0o600);
    expect(envFile(envPath)).toEqual({
      BERTH_ENDPOINT: url,
      BERTH_TOKEN: token,
      BERTH_NODE_LABELS: '{"rack":"r1"}',
    });
    const unit = readFileSync(join(root, "etc/systemd/system/berth-agent.service"), "utf8");
    expect(unit).toContain("EnvironmentFile=/etc/berth/agent.env");
    expect(unit).toContain("RestartPreventExitStatus=2");
    expect(unit).toContain(
      ` ${AGENT_NODE_FLAGS} /opt/berth-agent/berth-agent.mjs --data-dir /var/lib/berth-agent\n`,
    );
    expect(unit).toMatch(/^ExecStart=\/\S*node /m);
    expect(unit).not.toContain(token);

    agent = startInstalled(root);
    type Devices = { items: { id: string; status: string; labels: Record<string, string> }[] };
    const devices = async () =>
      (await (await t.call("GET", "/api/v1/devices", { token: t.admin })).json()) as Devices;
    await until(async () => (await devices()).items[0]?.status === "online", 30_000).catch((e) => {
      throw new Error(`${e}\n${agent!.stderr()}`);
    });
    const [device] = (await devices()).items;
    expect(device!.labels).toEqual({ rack: "r1" });
    const ps = spawnSync("ps", ["-o", "args=", "-p", String(agent.child.pid)], { encoding: "utf8" }).stdout;
    expect(ps).not.toContain(token);
    await agent.stop();

    // Again, without a token: an upgrade that keeps the token file and the agent's identity.
    const identity = readFileSync(join(root, "var/lib/berth-agent/identity.json"), "utf8");
    const again = await runInstaller(url, ["--root", root]);
    expect(again, again.stderr).toMatchObject({ code: 0 });
    expect(again.stderr).toContain("kept");
    expect(envFile(envPath).BERTH_TOKEN).toBe(token);
    agent = startInstalled(root);
    await until(() => /agent started/.test(agent!.stderr()), 30_000);
    expect(readFileSync(join(root, "var/lib/berth-agent/identity.json"), "utf8")).toBe(identity);
    expect((await devices()).items.map((d) => d.id)).toEqual([device!.id]);
    await agent.stop();
  }, 90_000);

  it("refuses to install without a token, and says which option is wrong", async () => {
    const root = await tempDir("install-refused");
    const none = await runInstaller(url, ["--root", root]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("set BERTH_TOKEN");
    const bad = await runInstaller(url, ["--root", root, "--runtime", "kvm"], { BERTH_TOKEN: "x" });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--runtime must be auto, process or docker");
  });

  it("serves the agent with its SHA-256, the same the script checks", async () => {
    const res = await t.call("GET", "/downloads/berth-agent.mjs");
    expect(res.status).toBe(200);
    const sha = res.headers.get("x-content-sha256");
    const script = await (await t.call("GET", "/install.sh")).text();
    expect(script.startsWith("#!/bin/sh\n")).toBe(true);
    expect(script).toContain(`AGENT_SHA256='${sha}'`);
    // Valid POSIX sh (dash parses it without running it).
    const check = spawnSync("sh", ["-n"], { input: script, encoding: "utf8" });
    expect(check.status, check.stderr).toBe(0);
  });
});
