import { mkdtemp, readFile, rm } from "node:fs/promises";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentProcess, startAgentProcess } from "../helpers/agent-process.ts";
import { type TestApp, testApp } from "../helpers/app.ts";
import { createToken } from "../helpers/fleet.ts";
import { alive, runCli } from "../helpers/processes.ts";
import { until } from "../helpers/wait.ts";

const LONG = 60_000;
const APPS = "/api/v1/namespaces/default/applications";

type Dep = {
  deviceId: string;
  state: string;
  version: number;
  containers: { name: string; state: string; restartCount: number }[];
};

/**
 * Process applications run by two real agent processes, labelled differently, against the app served in this
 * process (specs/applications.md; the agent supervises the programs with their restart policies).
 */
describe("process applications on two real agents", () => {
  let t: TestApp;
  let http: Server;
  let url: string;
  const agents: { proc: AgentProcess; dir: string; labels: string; deviceId?: string }[] = [];
  const cleanup: string[] = [];

  const start = (a: (typeof agents)[number]) =>
    startAgentProcess(
      ["--endpoint", url, "--data-dir", a.dir, "--runtime", "process", "--node-labels", a.labels],
      { BERTH_TOKEN: token },
    );
  let token: string;
  const call = (method: string, path: string, body?: unknown) =>
    t.call(method, path, { token: t.admin, body });
  const deployments = async (name: string) =>
    ((await (await call("GET", `${APPS}/${name}/deployments`)).json()) as { items: Dep[] }).items;
  /** The pid a program wrote into its workload directory (it writes $$ to a file of the test's). */
  const pidIn = async (file: string) => Number((await readFile(file, "utf8").catch(() => "")).trim()) || 0;

  beforeAll(async () => {
    t = await testApp({ config: { pollWaitCapSeconds: 2 } });
    http = await new Promise((resolve) => {
      const s = serve({ fetch: t.app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s as Server));
    });
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    token = (await createToken(t)).token;
    for (const labels of ['{"gpu":"a100"}', '{"gpu":"h100"}']) {
      const dir = await mkdtemp(join(tmpdir(), "berth-app-agent-"));
      cleanup.push(dir);
      const a = { proc: undefined as unknown as AgentProcess, dir, labels };
      a.proc = start(a);
      agents.push(a);
    }
    await until(async () => (await t.deps.repos.devices.listAll("default")).length === 2, LONG);
    for (const d of await t.deps.repos.devices.listAll("default"))
      agents.find((a) => a.labels.includes(d.labels.gpu!))!.deviceId = d.id;
  }, 90_000);
  afterAll(async () => {
    for (const a of agents) await a.proc?.stop("SIGTERM");
    http?.closeAllConnections();
    http?.close();
    await Promise.all(cleanup.map((d) => rm(d, { recursive: true, force: true })));
  });

  it(
    "runs on exactly the matching device, restarts a crashing program per its policy, keeps it across an unchanged update, follows a relabel, and goes when deleted",
    async () => {
      const out = await mkdtemp(join(tmpdir(), "berth-app-out-"));
      cleanup.push(out);
      const pidFile = join(out, "pid");
      const res = await call("POST", APPS, {
        name: "exporter",
        type: "process",
        scheduling: { selectors: { gpu: "a100" } },
        spec: {
          containers: [
            { name: "server", command: `echo $$ > ${pidFile}; exec sleep 600` },
            // Crashes twice, then stays up: its restarts show.
            {
              name: "flaky",
              command: `n=$(cat ${out}/runs 2>/dev/null || echo 0); echo $((n+1)) > ${out}/runs; [ "$n" -ge 2 ] && exec sleep 600; exit 3`,
              restartPolicy: { name: "on-failure", maximumRetryCount: 5 },
            },
          ],
        },
      });
      expect(res.status).toBe(201);
      const appId = ((await res.json()) as { id: string }).id;
      const [a100, h100] = agents;
      await until(async () => {
        const [d] = await deployments("exporter");
        return d?.state === "running" && d.containers.find((c) => c.name === "flaky")?.restartCount === 2;
      }, LONG);
      const [d] = await deployments("exporter");
      expect(d).toMatchObject({ deviceId: a100!.deviceId, version: 1 });
      const pid = await pidIn(pidFile);
      expect(pid).toBeGreaterThan(0);
      const app = (await (await call("GET", `${APPS}/exporter`)).json()) as { deploymentStatus: unknown };
      expect(app.deploymentStatus).toMatchObject({ total: 1, available: 1, pending: 0 });

      // A new scheduling that still matches only a100: a new version, the same spec: adopted, same pid.
      await call("PATCH", `${APPS}/exporter`, {
        scheduling: { type: "Conditional", selectors: { gpu: "a100" }, nodeGroups: ["default"] },
      });
      await until(async () => (await deployments("exporter"))[0]?.version === 2, LONG);
      await until(async () => (await deployments("exporter"))[0]?.state === "running", LONG);
      expect(await pidIn(pidFile)).toBe(pid);
      expect(() => process.kill(pid, 0)).not.toThrow();

      // Relabelled: the app moves to the other device, and its program on the first one stops.
      await call("PATCH", `/api/v1/devices/${a100!.deviceId}`, { labels: { gpu: "h100" } });
      await call("PATCH", `/api/v1/devices/${h100!.deviceId}`, { labels: { gpu: "a100" } });
      await until(async () => {
        const all = await deployments("exporter");
        return all.length === 1 && all[0]!.deviceId === h100!.deviceId && all[0]!.state === "running";
      }, LONG);
      await until(() => !alive(pid), LONG);

      // Deleted: every deployment goes, then the application.
      expect((await call("DELETE", `${APPS}/exporter`)).status).toBe(202);
      await until(async () => (await call("GET", `${APPS}/exporter`)).status === 404, LONG);
      expect(await t.deps.repos.deployments.ofApplication(appId)).toEqual([]);
    },
    4 * LONG,
  );

  /** The pids a program appended to a file of the test's, one per start. */
  const pidsIn = async (file: string) =>
    (await readFile(file, "utf8").catch(() => "")).split("\n").filter(Boolean).map(Number);
  const everywhere = async (name: string, version: number) => {
    const all = await deployments(name);
    return all.length === 2 && all.every((d) => d.state === "running" && d.version === version);
  };
  /** Reads a follow stream's `output` events until `seen` says it has what it waited for. */
  async function followUntil(path: string, seen: (text: string) => boolean) {
    const abort = new AbortController();
    const res = await fetch(`${url}${path}`, {
      headers: { authorization: `Bearer ${t.admin}` },
      signal: abort.signal,
    });
    expect(res.status).toBe(200);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    try {
      while (!seen(text)) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
      }
    } finally {
      abort.abort();
    }
    return text;
  }

  it(
    "logs per container (tail, follow across an update); an update redeploys everywhere; a device offline during it gets it when it returns",
    async () => {
      const out = await mkdtemp(join(tmpdir(), "berth-app-out-"));
      cleanup.push(out);
      const program = (v: number) => ({
        name: "main",
        command: `echo $$ >> ${out}/v${v}; echo "main v${v} up"; echo "main v${v} warns" >&2; exec sleep 600`,
      });
      const res = await call("POST", APPS, {
        name: "web",
        type: "process",
        scheduling: { type: "AllDevices" },
        spec: {
          containers: [program(1), { name: "side", command: "echo side one; echo side two; exec sleep 600" }],
        },
      });
      expect(res.status).toBe(201);
      await until(() => everywhere("web", 1), LONG);
      const [a, b] = agents;
      const logs = `${APPS}/web/devices/${a!.deviceId}/logs`;
      type Logs = { output: { stream: string; container?: string; data: string }[] };
      const text = (l: Logs) => l.output.map((x) => x.data).join("");
      await until(async () => {
        const r = await call("GET", `${logs}?container=side`);
        return r.status === 200 && text((await r.json()) as Logs) === "side one\nside two\n";
      }, LONG);
      await until(async () => (await call("GET", `${logs}?container=main`)).status === 200, LONG);
      const main = (await (await call("GET", `${logs}?container=main&stream=stderr`)).json()) as Logs;
      expect(main.output.every((x) => x.container === "main" && x.stream === "stderr")).toBe(true);
      expect(text(main)).toBe("main v1 warns\n");
      const tail = (await (await call("GET", `${logs}?container=side&tail=1`)).json()) as Logs;
      expect(text(tail)).toBe("side two\n");
      // Through the CLI too, each line named by its container.
      const cli = await runCli([
        "--endpoint",
        url,
        "--api-key",
        t.admin,
        "apps",
        "logs",
        "web",
        "--device",
        a!.deviceId!,
        "--container",
        "side",
      ]);
      expect(cli.stdout).toBe("side one\nside two\n");
      const both = await runCli([
        "--endpoint",
        url,
        "--api-key",
        t.admin,
        "apps",
        "logs",
        "web",
        "--device",
        a!.deviceId!,
      ]);
      expect(both.stdout).toContain("side | side one\n");
      expect(both.stdout).toContain("main | main v1 up\n");
      expect((await call("GET", `${APPS}/web/devices/nope/logs`)).status).toBe(404);
      const onDevice = (await (await call("GET", `/api/v1/devices/${a!.deviceId}/applications`)).json()) as {
        items: { name: string; state: string }[];
      };
      expect(onDevice.items).toContainEqual(expect.objectContaining({ name: "web", state: "running" }));

      // Device b goes offline; the update is written meanwhile.
      await until(async () => (await pidsIn(join(out, "v1"))).length === 2, LONG);
      const [v1a, v1b] = await pidsIn(join(out, "v1"));
      await b!.proc.stop("SIGTERM");
      const following = followUntil(`${logs}?container=main&follow=true&tail=0`, (t) =>
        t.includes("main v2 up"),
      );
      const patched = await call("PATCH", `${APPS}/web`, {
        spec: {
          containers: [program(2), { name: "side", command: "echo side one; echo side two; exec sleep 600" }],
        },
      });
      expect(((await patched.json()) as { version: number }).version).toBe(2);
      // The follower is carried onto the successor's output on device a.
      expect(await following).toContain("main v2 up");
      await until(async () => {
        const all = await deployments("web");
        return (
          all.find((d) => d.deviceId === a!.deviceId)?.state === "running" &&
          all.find((d) => d.deviceId === a!.deviceId)?.version === 2
        );
      }, LONG);
      const offline = (await deployments("web")).find((d) => d.deviceId === b!.deviceId);
      expect(offline?.version).toBe(2);
      expect(offline?.state).toBe("pending");
      // Its old program ran on while its agent was away; back, it takes the update.
      expect(alive(v1b!) || alive(v1a!)).toBe(true);
      b!.proc = start(b!);
      await until(() => everywhere("web", 2), LONG);
      await until(async () => (await pidsIn(join(out, "v2"))).length === 2, LONG);
      await until(async () => !alive(v1a!) && !alive(v1b!), LONG);
      for (const pid of await pidsIn(join(out, "v2"))) expect(alive(pid)).toBe(true);
      expect((await call("DELETE", `${APPS}/web`)).status).toBe(202);
      await until(async () => (await call("GET", `${APPS}/web`)).status === 404, LONG);
    },
    5 * LONG,
  );

  it(
    "an agent killed mid-rollout converges when it comes back: every device at the new version, one program each",
    async () => {
      const out = await mkdtemp(join(tmpdir(), "berth-app-out-"));
      cleanup.push(out);
      const program = (v: number) => ({ name: "main", command: `echo $$ >> ${out}/v${v}; exec sleep 600` });
      const res = await call("POST", APPS, {
        name: "roll",
        type: "process",
        scheduling: { type: "AllDevices" },
        rollout: { maxUnavailable: 1 },
        spec: { containers: [program(1)] },
      });
      expect(res.status).toBe(201);
      await until(() => everywhere("roll", 1), LONG);
      await until(async () => (await pidsIn(join(out, "v1"))).length === 2, LONG);
      const [a] = agents;
      await call("PATCH", `${APPS}/roll`, { spec: { containers: [program(2)] } });
      // Killed outright while the rollout goes (one device at a time): it may or may not have applied it.
      expect(await a!.proc.stop("SIGKILL")).toBeNull();
      a!.proc = start(a!);
      await until(() => everywhere("roll", 2), 2 * LONG);
      await until(async () => (await pidsIn(join(out, "v1"))).every((pid) => !alive(pid)), LONG);
      const v2 = await pidsIn(join(out, "v2"));
      expect(v2.filter(alive)).toHaveLength(2);
      expect((await call("DELETE", `${APPS}/roll`)).status).toBe(202);
      await until(async () => (await call("GET", `${APPS}/roll`)).status === 404, LONG);
      for (const pid of v2) await until(async () => !alive(pid), LONG);
    },
    5 * LONG,
  );

  it(
    "a deployment held as unknown (its device was silent) is running again once the agent is back: it reports every status after a start",
    async () => {
      const res = await call("POST", APPS, {
        name: "beacon",
        type: "process",
        scheduling: { type: "AllDevices" },
        spec: { containers: [{ name: "main", command: "exec sleep 600" }] },
      });
      expect(res.status).toBe(201);
      const appId = ((await res.json()) as { id: string }).id;
      await until(() => everywhere("beacon", 1), LONG);
      const [a] = agents;
      // What the control plane writes of a device silent for 2× its TTL (the unit tests drive that clock).
      await a!.proc.stop("SIGTERM");
      const d = (await t.deps.repos.deployments.get(appId, a!.deviceId!))!;
      const silent = { ...d, state: "unknown" as const, message: "the device has not been seen", v: d.v + 1 };
      expect((await t.deps.repos.commit([t.deps.repos.deployments.replace(d, silent)])).ok).toBe(true);
      expect((await deployments("beacon")).find((x) => x.deviceId === a!.deviceId)?.state).toBe("unknown");
      // Back, with nothing changed on the device: its report of the same state clears it.
      a!.proc = start(a!);
      await until(() => everywhere("beacon", 1), LONG);
      expect((await call("DELETE", `${APPS}/beacon`)).status).toBe(202);
      await until(async () => (await call("GET", `${APPS}/beacon`)).status === 404, LONG);
    },
    3 * LONG,
  );

  it(
    "berth apps create from flags: one program with its env, selector and restart policy; bad flags exit 2 naming them",
    async () => {
      const out = await mkdtemp(join(tmpdir(), "berth-app-flags-"));
      cleanup.push(out);
      const cli = (...args: string[]) => runCli(["--endpoint", url, "--api-key", t.admin, ...args]);
      const made = await cli(
        "apps",
        "create",
        "flagged",
        "--type",
        "process",
        "--command",
        `echo "$GREETING $1" > ${out}/said; exec sleep 600`,
        "-l",
        "gpu=a100",
        "-e",
        "GREETING=hello",
        "--restart",
        "on-failure:3",
        "--",
        "from-args",
      );
      expect(made.code, made.stderr).toBe(0);
      await until(async () => (await deployments("flagged"))[0]?.state === "running", LONG);
      const [d] = await deployments("flagged");
      // The device labelled gpu=a100 now (an earlier test swaps the two devices' labels).
      const a100 = (await t.deps.repos.devices.listAll("default")).find((x) => x.labels.gpu === "a100");
      expect(d!.deviceId).toBe(a100!.id);
      await until(
        async () => (await readFile(join(out, "said"), "utf8").catch(() => "")) === "hello from-args\n",
        LONG,
      );
      const app = (await (await call("GET", `${APPS}/flagged`)).json()) as {
        scheduling: unknown;
        spec: { containers: { restartPolicy: unknown }[] };
      };
      expect(app.scheduling).toMatchObject({ type: "Conditional", selectors: { gpu: "a100" } });
      expect(app.spec.containers[0]!.restartPolicy).toEqual({ name: "on-failure", maximumRetryCount: 3 });
      const bad = await cli("apps", "create", "x", "--image", "busybox", "--restart", "on failure");
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain("--restart");
      const none = await cli("apps", "create", "x");
      expect(none.code).toBe(2);
      expect(none.stderr).toContain("--image");
      expect((await cli("apps", "delete", "flagged")).code).toBe(0);
      await until(async () => (await call("GET", `${APPS}/flagged`)).status === 404, LONG);
    },
    3 * LONG,
  );
});
