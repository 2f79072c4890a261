import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentProcess, startAgentProcess } from "../helpers/agent-process.ts";
import { firstDevice } from "../helpers/agents.ts";
import { type TestApp, testApp } from "../helpers/app.ts";
import { createToken } from "../helpers/fleet.ts";
import { control, job, submit } from "../helpers/jobs.ts";
import { runCli } from "../helpers/processes.ts";
import { until } from "../helpers/wait.ts";

const LONG = 60_000;

type Op = { id: string; state: string; message: string };

/**
 * Device reboots (applications.md §8) with the real agent process: refused without --allow-reboot, refused
 * while the device runs jobs, and carried out once: the agent records it, runs its reboot command, and says
 * it is done when it comes back in another boot (a boot id file stands in for /proc's; the test restarts
 * the agent as the machine would). A boot sync that hands the operation over again does not reboot again.
 */
describe("device reboot with a real agent", () => {
  let t: TestApp;
  let http: Server;
  let url: string;
  let token: string;
  let dir: string;
  let agent: AgentProcess;
  let deviceId: string;
  const files: string[] = [];
  let bootId: string;
  let reboots: string;

  const start = (allow: boolean) =>
    startAgentProcess(
      [
        "--endpoint",
        url,
        "--data-dir",
        dir,
        "--runtime",
        "process",
        ...(allow
          ? ["--allow-reboot", "--reboot-command", `echo rebooted >> ${reboots}; echo boot-2 > ${bootId}`]
          : []),
      ],
      { BERTH_TOKEN: token, BERTH_AGENT_BOOT_ID_FILE: bootId },
    );
  const reboot = (query = "") =>
    t.call("POST", `/api/v1/devices/${deviceId}/reboot${query}`, {
      token: t.admin,
      body: { reason: "kernel update" },
    });
  const operation = async (id: string) =>
    (await (
      await t.call("GET", `/api/v1/devices/${deviceId}/operations/${id}`, { token: t.admin })
    ).json()) as Op;

  beforeAll(async () => {
    t = await testApp({ config: { pollWaitCapSeconds: 2 } });
    http = await new Promise((resolve) => {
      const s = serve({ fetch: t.app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s as Server));
    });
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    token = (await createToken(t)).token;
    dir = await mkdtemp(join(tmpdir(), "berth-reboot-agent-"));
    const scratch = await mkdtemp(join(tmpdir(), "berth-reboot-"));
    files.push(dir, scratch);
    bootId = join(scratch, "boot_id");
    reboots = join(scratch, "reboots");
    await writeFile(bootId, "boot-1\n");
    agent = start(false);
    deviceId = await firstDevice(t, LONG);
  }, 90_000);
  afterAll(async () => {
    await agent?.stop("SIGTERM");
    http?.closeAllConnections();
    http?.close();
    await Promise.all(files.map((d) => rm(d, { recursive: true, force: true })));
  });

  it(
    "is rejected without --allow-reboot, refused while jobs run, then done once, after the boot",
    async () => {
      // An agent that does not allow reboots says so; nothing runs.
      const refused = await reboot();
      expect(refused.status).toBe(202);
      const first = (await refused.json()) as Op;
      expect(first.state).toBe("pending");
      await until(async () => (await operation(first.id)).state === "rejected", LONG);
      expect((await operation(first.id)).message).toContain("--allow-reboot");
      expect(await readFile(reboots, "utf8").catch(() => "")).toBe("");

      // Allowed now, but busy: a job runs there.
      await agent.stop("SIGTERM");
      agent = start(true);
      const { body: running } = await submit(t, { exe: "/bin/sh", args: ["-c", "exec sleep 600"] });
      await until(async () => (await job(t, running.id)).status === "Running", LONG);
      const busy = await reboot();
      expect(busy.status).toBe(409);
      const error = ((await busy.json()) as { error: { code: string; message: string } }).error;
      expect(error.code).toBe("DeviceBusy");
      expect(error.message).toContain(running.id);
      await control(t, running.id, "kill");
      await until(async () => (await job(t, running.id)).status === "Killed", LONG);

      // Through the CLI: sent, started (the reboot command ran), done once the agent is back in a new boot.
      const sent = await runCli([
        "--endpoint",
        url,
        "--api-key",
        t.admin,
        "devices",
        "reboot",
        deviceId,
        "--reason",
        "kernel update",
        "-o",
        "json",
      ]);
      expect(sent.code, sent.stderr).toBe(0);
      const op = JSON.parse(sent.stdout) as Op;
      await until(async () => (await readFile(reboots, "utf8").catch(() => "")) === "rebooted\n", LONG);
      await until(async () => (await operation(op.id)).state === "started", LONG);
      await agent.stop("SIGTERM");
      agent = start(true);
      await until(async () => (await operation(op.id)).state === "done", LONG);
      // Listed, newest first; the boot sync handed nothing over to do again.
      const listed = await runCli([
        "--endpoint",
        url,
        "--api-key",
        t.admin,
        "devices",
        "operations",
        deviceId,
      ]);
      expect(listed.stdout).toMatch(new RegExp(`^${op.id}\\s+reboot\\s+done`, "m"));
      expect(listed.stdout).toMatch(new RegExp(`^${first.id}\\s+reboot\\s+rejected`, "m"));
      // Restarted with its feed cursor lost (a boot sync hands over what it should have): no second reboot.
      await agent.stop("SIGTERM");
      await rm(join(dir, "cursor"), { force: true });
      agent = start(true);
      const probe = await t.call("POST", "/api/v1/reservations", {
        token: t.admin,
        body: { nodeId: deviceId, type: "debug", data: { ping: 1 }, duration: 600 },
      });
      const probeId = ((await probe.json()) as { id: string }).id;
      await until(async () => {
        const r = await t.deps.repos.reservations.get(deviceId, probeId);
        return r?.result?.state === "ok";
      }, LONG);
      expect(await readFile(reboots, "utf8")).toBe("rebooted\n");
      expect((await operation(op.id)).state).toBe("done");
      // A device of nobody's is a 404.
      expect((await t.call("POST", "/api/v1/devices/nope/reboot", { token: t.admin, body: {} })).status).toBe(
        404,
      );
    },
    5 * LONG,
  );
});
