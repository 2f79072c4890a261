import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentProcess, startAgentProcess } from "../helpers/agent-process.ts";
import {
  adminKeyOf,
  alive,
  apiClient,
  runCli,
  type ServerProcess,
  startServerProcess,
  tempDir,
} from "../helpers/processes.ts";
import { until } from "../helpers/wait.ts";

const LONG = 60_000;

/**
 * A lab (and a file server) that is a process the agent runs: no container engine anywhere. The whole flow
 * through the real server, a real agent and the CLI: spawn from the menu with its progress through
 * complete, the URL answering with the lab's own token, status, delete, and the slot free again
 * (specs/labs.md; the process-based lab).
 */
describe("process labs on a real agent, through the CLI", () => {
  let server: ServerProcess;
  let agent: AgentProcess;
  let dataDir: string;
  let admin = "";
  let alice = "";
  let labDir = "";
  const api = apiClient(
    () => server.url,
    () => admin,
  );
  const cli = (key: string, args: string[]) =>
    runCli(["--endpoint", server.url, "--api-key", key, ...args], { BERTH_DATA_DIR: dataDir });

  beforeAll(async () => {
    dataDir = await tempDir("e2e-labs");
    labDir = await tempDir("e2e-lab-files");
    server = await startServerProcess(dataDir, { BERTH_SWEEP_INTERVAL_SECONDS: "1" });
    admin = await adminKeyOf(dataDir);
    const token = (await api<{ token: string }>("POST", "/registration-tokens", { name: "labs" })).token;
    const agentDir = await tempDir("e2e-labs-agent");
    agent = startAgentProcess(["--endpoint", server.url, "--data-dir", agentDir, "--runtime", "process"], {
      BERTH_TOKEN: token,
    });
    alice = (await api<{ key: string }>("POST", "/api-keys", { name: "alice", role: "member" })).key;
    await api("POST", "/profiles", {
      name: "small",
      limits: [
        { type: "cpuCount", value: "1" },
        { type: "memory", value: "512" },
      ],
    });
    // The "lab": a tiny server on $BERTH_LAB_PORT that answers /api, and / with the token it was given and
    // the image (a virtualenv, say) it was asked for. It writes its pid where the test can see it.
    const server_js = join(labDir, "lab.js");
    await writeFile(
      server_js,
      [
        'const http = require("node:http");',
        'require("node:fs").writeFileSync(process.env.PID_FILE, String(process.pid));',
        "http.createServer((req, res) => {",
        '  if (req.url === "/api") return res.end("{}");',
        '  const token = new URL(req.url, "http://x").searchParams.get("token");',
        "  res.statusCode = token === process.env.BERTH_LAB_TOKEN ? 200 : 403;",
        '  res.end(["lab of", process.env.BERTH_LAB_USER, "with", process.env.JUPYTER_IMAGE, "size", process.env.CONTAINER_SIZE].join(" "));',
        '}).listen(Number(process.env.BERTH_LAB_PORT), "0.0.0.0");',
      ].join("\n"),
    );
    const config = join(labDir, "labs.yaml");
    await writeFile(
      config,
      [
        "runtime: process",
        `command: exec ${process.execPath} ${server_js}`,
        "queues: []",
        "sizes: [small]",
        "defaultSize: small",
        "images:",
        "  recommended: /opt/venvs/lab-2026.07",
        "  menu:",
        "    - reference: /opt/venvs/lab-2026.07",
        "      name: July 2026",
        "    - reference: /opt/venvs/lab-2026.06",
        `env: { PID_FILE: ${join(labDir, "pid")} }`,
        "readiness: { path: /api, timeoutSeconds: 2 }",
        "fileserver:",
        "  enabled: true",
        `  command: exec ${process.execPath} ${server_js}`,
        "  lifetimeSeconds: 3600",
        "",
      ].join("\n"),
    );
    const set = await cli(admin, ["labs", "config", "set", "-f", config]);
    expect(set, set.stderr).toMatchObject({ code: 0 });
    await until(async () => (await api<{ items: unknown[] }>("GET", "/devices")).items.length === 1, LONG);
  }, 90_000);
  afterAll(async () => {
    await agent?.stop("SIGTERM");
    await server?.stop();
  });

  it(
    "spawns, follows the progress through complete, answers at its URL with its token, deletes, and spawns again",
    async () => {
      const images = await cli(alice, ["labs", "images"]);
      expect(images.stdout).toMatch(/\/opt\/venvs\/lab-2026\.07\s+July 2026\s+recommended\s+yes/);
      expect(images.stdout).toMatch(/\/opt\/venvs\/lab-2026\.06\s+lab-2026\.06\s+menu\s+yes/);
      const options = await cli(alice, ["labs", "options"]);
      expect(options.stdout).toMatch(/^small \(default\)\s+1\s+0\.5\s+0\s+yes$/m);
      expect(options.stdout).toContain("quota: 8 CPUs, 32 GiB, 1 GPUs");
      // Nothing to follow yet: the API's 404, said plainly.
      const none = await cli(alice, ["labs", "events"]);
      expect(none.code).toBe(1);
      expect(none.stderr).toContain("alice has no lab operation to follow");
      // A process agent takes no prepulls, and the prepuller says why.
      const prepulls = await cli(admin, ["labs", "prepulls"]);
      expect(prepulls.stdout).toMatch(/no: no container runtime/);
      const spawned = await cli(alice, ["labs", "spawn", "--image", "/opt/venvs/lab-2026.06"]);
      expect(spawned, spawned.stderr).toMatchObject({ code: 0 });
      // Progress on stderr (not a terminal: a line per event), in order, through complete.
      const lines = spawned.stderr.trimEnd().split("\n");
      expect(lines[0]).toBe("  1% Starting lab creation for alice");
      expect(lines).toContainEqual(expect.stringMatching(/^ 30% Placed on device /));
      expect(lines).toContainEqual(" 80% Lab container started");
      expect(lines).toContainEqual(expect.stringMatching(/^ 90% Waiting for the lab to answer on port 8888/));
      expect(lines.at(-1)).toBe("complete Lab for alice is ready");
      const progress = lines.map((l) => Number(/^\s*(\d+)%/.exec(l)?.[1] ?? 100));
      expect(progress).toEqual([...progress].sort((a, b) => a - b));
      // The URL: the device's address and the port the agent picked, with the lab's own token.
      const url = spawned.stdout.trim();
      expect(url).toMatch(/^http:\/\/[\d.]+:\d+\/\?token=[\w-]{43}$/);
      const answer = await fetch(url);
      expect(answer.status).toBe(200);
      expect(await answer.text()).toBe("lab of alice with /opt/venvs/lab-2026.06 size small");
      expect((await fetch(url.replace(/token=.*/, "token=wrong"))).status).toBe(403);

      const status = JSON.parse((await cli(alice, ["labs", "status", "-o", "json"])).stdout);
      expect(status).toMatchObject({ status: "running", user: { username: "alice" }, url });
      const again = await cli(alice, ["labs", "spawn"]);
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/LabExists|already has a lab/);
      const list = await cli(admin, ["labs", "list", "--status", "running"]);
      expect(list.stdout).toMatch(/^alice\s+running\s+\/opt\/venvs\/lab-2026\.06\s+small/m);

      const pid = Number(
        await import("node:fs/promises").then((f) => f.readFile(join(labDir, "pid"), "utf8")),
      );
      expect(alive(pid)).toBe(true);
      const deleted = await cli(alice, ["labs", "delete"]);
      expect(deleted, deleted.stderr).toMatchObject({ code: 0 });
      expect(deleted.stderr).toContain(" 25% Shutting down lab container");
      expect(deleted.stderr).toContain("100% Lab for alice deleted");
      expect(deleted.stdout).toContain("lab of alice deleted");
      await until(async () => !alive(pid), 20_000);
      const gone = await cli(alice, ["labs", "status"]);
      expect(gone.code).toBe(1);
      expect(gone.stderr).toMatch(/alice has no lab/);
      // The slot is free: a new lab (detached this time).
      const detached = await cli(alice, ["labs", "spawn", "-d", "-o", "json"]);
      expect(detached, detached.stderr).toMatchObject({ code: 0 });
      expect(JSON.parse(detached.stdout)).toMatchObject({
        status: "pending",
        options: { image: "/opt/venvs/lab-2026.07" },
      });
      const events = await cli(alice, ["labs", "events"]);
      expect(events.stderr.trimEnd().split("\n").at(-1)).toBe("complete Lab for alice is ready");
      expect((await cli(alice, ["labs", "delete", "-d"])).code).toBe(0);
    },
    LONG * 2,
  );

  it(
    "a file server: created (or the running one returned), answering at its URL, renewed, deleted",
    async () => {
      const made = await cli(alice, ["fileservers", "create"]);
      expect(made, made.stderr).toMatchObject({ code: 0 });
      const url = made.stdout.trim();
      expect(url).toMatch(/^http:\/\/[\d.]+:\d+\/\?token=/);
      expect((await fetch(url)).status).toBe(200);
      const same = await cli(alice, ["fileservers", "create"]);
      expect(same.stdout.trim()).toBe(url);
      const before = JSON.parse((await cli(alice, ["fileservers", "status", "-o", "json"])).stdout);
      expect(before).toMatchObject({ status: "running", kind: "fileserver" });
      await new Promise((r) => setTimeout(r, 1100));
      const renewed = JSON.parse((await cli(alice, ["fileservers", "renew", "-o", "json"])).stdout);
      expect(Date.parse(renewed.expiresAt)).toBeGreaterThan(Date.parse(before.expiresAt));
      expect((await cli(admin, ["fileservers", "list"])).stdout).toMatch(/^alice\s+running/m);
      expect((await cli(alice, ["fileservers", "delete"])).code).toBe(0);
      await until(async () => (await cli(alice, ["fileservers", "status"])).code === 1, 20_000);
    },
    LONG * 2,
  );
});
