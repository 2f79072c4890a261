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
      await until(async () => {
        try {
          process.kill(pid, 0);
          return false;
        } catch {
          return true;
        }
      }, LONG);

      // Deleted: every deployment goes, then the application.
      expect((await call("DELETE", `${APPS}/exporter`)).status).toBe(202);
      await until(async () => (await call("GET", `${APPS}/exporter`)).status === 404, LONG);
      expect(await t.deps.repos.deployments.ofApplication(d!.deviceId)).toEqual([]);
    },
    4 * LONG,
  );
});
