import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import { afterAll, beforeAll, expect, it } from "vitest";
import { appContainerName, appNetworkName } from "../../agent/runtimes/apps.ts";
import { type AgentProcess, startAgentProcess } from "../helpers/agent-process.ts";
import { firstDevice } from "../helpers/agents.ts";
import { type TestApp, testApp } from "../helpers/app.ts";
import { describeWithDocker, TEST_IMAGE } from "../helpers/docker-engine.ts";
import { createToken } from "../helpers/fleet.ts";
import { freePort } from "../helpers/ports.ts";
import { runCli } from "../helpers/processes.ts";
import { until } from "../helpers/wait.ts";

const LONG = 60_000;

/** Debian's docker-registry (the CNCF distribution registry), for a private registry of the test's own. */
const registryBin = spawnSync("sh", ["-c", "command -v docker-registry"], { encoding: "utf8" }).stdout.trim();
if (!registryBin && process.env.CI !== "true")
  console.warn(
    '[docker] skipping "pulls a private image": no docker-registry (install Debian\'s docker-registry)',
  );
/** htpasswd line for user `berth`, password `berth-registry-pw` (bcrypt, cost 5). */
const HTPASSWD = "berth:$2b$05$QUc4XTzkm1Fjz4CaVI4HtOsYy4wC06tc/vAHzAdB8UZxyEksMsG2O";
const APPS = "/api/v1/namespaces/default/applications";

type Dep = {
  state: string;
  version: number;
  containers: { name: string; state: string; restartCount: number; exitCode?: number }[];
};

/**
 * Container applications on a real Docker engine (a dockerd of the test's own), run by the real agent
 * process: Docker's restart policies, the application's bridge network, secrets, per-container logs, a
 * same-spec update adopted as it runs and a changed one recreated, and removal of everything on delete.
 */
describeWithDocker("container applications on a real Docker engine", (engine) => {
  let t: TestApp;
  let http: Server;
  let agent: AgentProcess;
  let deviceId: string;
  let secretsRoot: string;
  let startAgent: () => AgentProcess;
  let agentDir: string;
  let url: string;
  const cleanup: string[] = [];
  const call = (method: string, path: string, body?: unknown) =>
    t.call(method, path, { token: t.admin, body });
  const deployment = async (name: string) =>
    ((await (await call("GET", `${APPS}/${name}/deployments`)).json()) as { items: Dep[] }).items[0];
  const containerId = async (name: string) =>
    (await engine().docker(["inspect", "-f", "{{.Id}}", name])).stdout.trim();

  beforeAll(async () => {
    t = await testApp({ config: { pollWaitCapSeconds: 5 } });
    http = await new Promise((resolve) => {
      const s = serve({ fetch: t.app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s as Server));
    });
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    agentDir = await mkdtemp(join(tmpdir(), "berth-app-docker-"));
    secretsRoot = await mkdtemp("/dev/shm/berth-test-secrets-");
    cleanup.push(agentDir, secretsRoot);
    const { token } = await createToken(t);
    startAgent = () =>
      startAgentProcess(
        ["--endpoint", url, "--token", token, "--data-dir", agentDir, "--runtime", "docker"],
        { DOCKER_HOST: engine().host, BERTH_AGENT_SECRETS_ROOT: secretsRoot },
      );
    agent = startAgent();
    deviceId = await firstDevice(t, LONG);
  }, 90_000);
  afterAll(async () => {
    await agent?.stop("SIGKILL");
    http?.closeAllConnections();
    http?.close();
    await Promise.all(cleanup.map((d) => rm(d, { recursive: true, force: true })));
  });

  it(
    "runs each container under Docker's restart policy on the app's network, with its secret and logs; an update recreates, a same-spec change adopts, delete removes it all",
    async () => {
      expect(
        (
          await call("POST", "/api/v1/namespaces/default/secrets", {
            name: "token",
            type: "Environment",
            data: "s3cret-value-42",
          })
        ).status,
      ).toBe(201);
      const server = (v: number) => ({
        name: "server",
        image: TEST_IMAGE,
        command: `[ "$TOKEN" = s3cret-value-42 ] && echo token-ok; echo server v${v} up; exec sleep 600`,
        env: [{ name: "TOKEN", fromSecret: "token" }],
      });
      const res = await call("POST", APPS, {
        name: "web",
        scheduling: { type: "AllDevices" },
        spec: {
          containers: [
            server(1),
            {
              name: "flaky",
              image: TEST_IMAGE,
              command: "echo try; exit 3",
              restartPolicy: { name: "on-failure", maximumRetryCount: 2 },
            },
          ],
        },
      });
      expect(res.status).toBe(201);
      const appId = ((await res.json()) as { id: string }).id;
      const serverName = appContainerName(appId, "server");
      const flakyName = appContainerName(appId, "flaky");
      // The server runs; the flaky one is restarted by Docker twice, then fails with its code.
      await until(async () => {
        const d = await deployment("web");
        const flaky = d?.containers.find((c) => c.name === "flaky");
        return (
          d?.containers.find((c) => c.name === "server")?.state === "running" && flaky?.state === "failed"
        );
      }, LONG);
      const d = (await deployment("web"))!;
      expect(d.state).toBe("failed");
      expect(d.containers.find((c) => c.name === "flaky")).toMatchObject({ restartCount: 2, exitCode: 3 });
      expect(
        (
          await engine().docker(["inspect", "-f", "{{.HostConfig.RestartPolicy.Name}}", serverName])
        ).stdout.trim(),
      ).toBe("always");
      // Both on the application's own bridge.
      const network = appNetworkName(appId);
      for (const name of [serverName, flakyName])
        expect(
          (await engine().docker(["inspect", "-f", "{{.HostConfig.NetworkMode}}", name])).stdout.trim(),
        ).toBe(network);
      expect((await engine().docker(["network", "inspect", network])).code).toBe(0);
      // Each container's log, the secret used (and never shown).
      const logs = (container: string) =>
        call("GET", `${APPS}/web/devices/${deviceId}/logs?container=${container}`).then(async (r) =>
          r.status === 200
            ? ((await r.json()) as { output: { data: string }[] }).output.map((l) => l.data).join("")
            : "",
        );
      await until(async () => (await logs("server")).includes("server v1 up"), LONG);
      expect(await logs("server")).toContain("token-ok");
      await until(async () => (await logs("flaky")).includes("try"), LONG);
      expect(await logs("server")).not.toContain("s3cret-value-42");

      // A change of scheduling only: a new version with the same spec, adopted as it runs.
      const before = await containerId(serverName);
      await call("PATCH", `${APPS}/web`, { scheduling: { type: "AllDevices", nodeGroups: ["default"] } });
      await until(async () => (await deployment("web"))?.version === 2, LONG);
      await until(async () => (await deployment("web"))?.containers.length === 2, LONG);
      expect(await containerId(serverName)).toBe(before);
      // A new spec: recreated (never two at once: the old one is removed first).
      await call("PATCH", `${APPS}/web`, { spec: { containers: [server(3)] } });
      await until(async () => {
        const now = await deployment("web");
        return now?.version === 3 && now.state === "running";
      }, LONG);
      expect(await containerId(serverName)).not.toBe(before);
      expect(await containerId(flakyName)).toBe("");
      await until(async () => (await logs("server")).includes("server v3 up"), LONG);

      // Deleted: its containers and its network go.
      expect((await call("DELETE", `${APPS}/web`)).status).toBe(202);
      await until(async () => (await call("GET", `${APPS}/web`)).status === 404, LONG);
      expect(await containerId(serverName)).toBe("");
      await until(async () => (await engine().docker(["network", "inspect", network])).code !== 0, LONG);
    },
    5 * LONG,
  );

  // In CI (.ci/run installs docker-registry) a missing registry fails the test instead of skipping it.
  it.skipIf(!registryBin && process.env.CI !== "true")(
    "pulls a private image with the namespace's registry credentials, redeploying when they are set, and leaves no credentials behind",
    async () => {
      const dir = await mkdtemp(join(tmpdir(), "berth-registry-"));
      cleanup.push(dir);
      const port = await freePort();
      const server = `127.0.0.1:${port}`;
      await writeFile(join(dir, "htpasswd"), `${HTPASSWD}\n`);
      await writeFile(
        join(dir, "config.yml"),
        `version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: ${dir}/data}}\nhttp: {addr: "${server}"}\nauth: {htpasswd: {realm: berth-test, path: ${dir}/htpasswd}}\n`,
      );
      const registry = spawn(registryBin, ["serve", join(dir, "config.yml")], { stdio: "ignore" });
      try {
        // The test image, pushed to the private registry and removed here: the agent must pull it.
        const image = `${server}/berth/private:1`;
        const login = join(dir, "login");
        await until(
          async () =>
            (
              await engine().docker([
                "--config",
                login,
                "login",
                "-u",
                "berth",
                "-p",
                "berth-registry-pw",
                server,
              ])
            ).code === 0,
          LONG,
        );
        expect((await engine().docker(["tag", TEST_IMAGE, image])).code).toBe(0);
        const pushed = await engine().docker(["--config", login, "push", image]);
        expect(pushed.stderr).toBe("");
        expect((await engine().docker(["rmi", image])).code).toBe(0);

        const res = await call("POST", APPS, {
          name: "private",
          scheduling: { type: "AllDevices" },
          spec: { containers: [{ name: "main", image, command: "echo pulled-ok; exec sleep 600" }] },
        });
        expect(res.status).toBe(201);
        // Without credentials the pull is refused, and the deployment says so.
        await until(async () => (await deployment("private"))?.state === "failed", LONG);
        expect((await deployment("private")) as unknown as { message: string }).toMatchObject({
          message: expect.stringContaining("could not pull it"),
        });
        // The namespace's credentials: its container applications are redeployed (configVersion + 1) and pull.
        expect(
          (
            await call("POST", "/api/v1/namespaces/default/secrets", {
              name: "registry-pw",
              type: "Environment",
              data: "berth-registry-pw",
            })
          ).status,
        ).toBe(201);
        const patched = await call("PATCH", "/api/v1/namespaces/default", {
          config: {
            registryAuthentication: { serverAddress: server, username: "berth", fromSecret: "registry-pw" },
          },
        });
        expect(patched.status).toBe(200);
        await until(async () => (await deployment("private"))?.state === "running", LONG);
        expect(
          ((await (await call("GET", `${APPS}/private`)).json()) as { configVersion: number }).configVersion,
        ).toBe(2);
        const logs = async () => {
          const r = await call("GET", `${APPS}/private/devices/${deviceId}/logs`);
          if (r.status !== 200) return "";
          return ((await r.json()) as { output: { data: string }[] }).output.map((l) => l.data).join("");
        };
        await until(async () => (await logs()).includes("pulled-ok"), LONG);
        // The credentials were on the tmpfs only while `docker run` pulled.
        const left = await readdir(join(secretsRoot, "secrets")).catch(() => []);
        expect(left.filter((f) => f.includes(".docker-"))).toEqual([]);
        expect((await call("DELETE", `${APPS}/private`)).status).toBe(202);
        await until(async () => (await call("GET", `${APPS}/private`)).status === 404, LONG);
      } finally {
        registry.kill("SIGKILL");
      }
    },
    5 * LONG,
  );

  it(
    "after a reboot emptied the tmpfs, the agent writes an application container's secret files again and starts it",
    async () => {
      expect(
        (
          await call("POST", "/api/v1/namespaces/default/secrets", {
            name: "cert",
            type: "File",
            data: "-----cert-42-----",
          })
        ).status,
      ).toBe(201);
      const res = await call("POST", APPS, {
        name: "tls",
        scheduling: { type: "AllDevices" },
        spec: {
          containers: [
            {
              name: "main",
              image: TEST_IMAGE,
              command: "cat /run/certs/cert.pem; echo; exec sleep 600",
              secrets: [{ name: "cert", filepath: "/run/certs/cert.pem" }],
            },
          ],
        },
      });
      expect(res.status).toBe(201);
      const name = appContainerName(((await res.json()) as { id: string }).id, "main");
      await until(async () => (await deployment("tls"))?.state === "running", LONG);
      const reservationId = (
        (await (await call("GET", `${APPS}/tls/deployments`)).json()) as {
          items: { reservationId: string }[];
        }
      ).items[0]!.reservationId;
      // A change of scheduling only: the successor adopts the container, which still mounts its files from
      // the first reservation's directory.
      const before = (await engine().docker(["inspect", "-f", "{{.Id}}", name])).stdout.trim();
      await call("PATCH", `${APPS}/tls`, { scheduling: { type: "AllDevices", nodeGroups: ["default"] } });
      await until(async () => {
        const d = await deployment("tls");
        return d?.version === 2 && d.state === "running";
      }, LONG);
      expect((await engine().docker(["inspect", "-f", "{{.Id}}", name])).stdout.trim()).toBe(before);
      // The agent is down; the machine "reboots": the container stops, the tmpfs is empty, and Docker's
      // start of it fails for want of its secret file.
      await agent.stop("SIGTERM");
      expect((await engine().docker(["stop", "-t", "1", name])).code).toBe(0);
      await rm(join(secretsRoot, "secrets", reservationId), { recursive: true, force: true });
      const failed = await engine().docker(["start", name]);
      expect(failed.code).not.toBe(0);
      expect(failed.stderr).toMatch(/not exist|no such file/i);
      // The agent back: the file again, the container running with it.
      agent = startAgent();
      await until(
        async () =>
          (await engine().docker(["inspect", "-f", "{{.State.Status}}", name])).stdout.trim() === "running",
        LONG,
      );
      expect((await engine().docker(["exec", name, "cat", "/run/certs/cert.pem"])).stdout).toBe(
        "-----cert-42-----",
      );
      expect((await call("DELETE", `${APPS}/tls`)).status).toBe(202);
      await until(async () => (await call("GET", `${APPS}/tls`)).status === 404, LONG);
      // Its secret files went with the reservation that ended it, the adopted directory included.
      await until(
        async () =>
          !(await readdir(join(secretsRoot, "secrets")).catch(() => [])).some((f) =>
            f.startsWith(reservationId),
          ),
        LONG,
      );
    },
    5 * LONG,
  );

  it(
    "runs a container with Synpse's settings: hostname, a host volume, capabilities, memory and shm limits",
    async () => {
      const host = await mkdtemp(join(tmpdir(), "berth-app-volume-"));
      cleanup.push(host);
      await writeFile(join(host, "hello.txt"), "from the host\n");
      const res = await call("POST", APPS, {
        name: "settings",
        scheduling: { type: "AllDevices" },
        spec: {
          containers: [
            {
              name: "main",
              image: TEST_IMAGE,
              command: "hostname; cat /srv/hello.txt; exec sleep 600",
              hostname: "berth-web-1",
              volumes: [`${host}:/srv:ro`],
              capDrop: ["NET_RAW"],
              memoryHardLimit: 64 * 1024 * 1024,
              shmSize: 16 * 1024 * 1024,
            },
          ],
        },
      });
      expect(res.status).toBe(201);
      const name = appContainerName(((await res.json()) as { id: string }).id, "main");
      await until(async () => (await deployment("settings"))?.state === "running", LONG);
      const inspect = async (format: string) =>
        (await engine().docker(["inspect", "-f", format, name])).stdout.trim();
      expect(await inspect("{{.Config.Hostname}}")).toBe("berth-web-1");
      expect(await inspect("{{.HostConfig.Memory}} {{.HostConfig.ShmSize}}")).toBe(
        `${64 * 1024 * 1024} ${16 * 1024 * 1024}`,
      );
      expect(await inspect("{{.HostConfig.CapDrop}}")).toContain("NET_RAW");
      expect(await inspect("{{range .Mounts}}{{.Source}}:{{.Destination}}:{{.RW}}{{end}}")).toBe(
        `${host}:/srv:false`,
      );
      const logs = async () => {
        const r = await call("GET", `${APPS}/settings/devices/${deviceId}/logs`);
        if (r.status !== 200) return "";
        return ((await r.json()) as { output: { data: string }[] }).output.map((l) => l.data).join("");
      };
      await until(async () => (await logs()).includes("from the host"), LONG);
      expect(await logs()).toContain("berth-web-1\n");
      // A new image through the CLI: the rest of the spec as it was, a new version.
      expect((await engine().docker(["tag", TEST_IMAGE, "berth-test/busybox:2"])).code).toBe(0);
      const updated = await runCli([
        "--endpoint",
        url,
        "--api-key",
        t.admin,
        "apps",
        "update",
        "settings",
        "--image",
        "berth-test/busybox:2",
      ]);
      expect(updated.code, updated.stderr).toBe(0);
      await until(async () => {
        const d = await deployment("settings");
        return d?.version === 2 && d.state === "running";
      }, LONG);
      expect(await inspect("{{.Config.Image}} {{.Config.Hostname}}")).toBe(
        "berth-test/busybox:2 berth-web-1",
      );
      expect((await call("DELETE", `${APPS}/settings`)).status).toBe(202);
      await until(async () => (await call("GET", `${APPS}/settings`)).status === 404, LONG);
    },
    3 * LONG,
  );

  it(
    "an update whose predecessor the agent no longer knows (its data lost) removes every container of the application first",
    async () => {
      const sleeper = (name: string, v: number) => ({
        name,
        image: TEST_IMAGE,
        command: `echo ${name} v${v}; exec sleep 600`,
      });
      const res = await call("POST", APPS, {
        name: "lost",
        scheduling: { type: "AllDevices" },
        spec: { containers: [sleeper("main", 1), sleeper("extra", 1)] },
      });
      expect(res.status).toBe(201);
      const appId = ((await res.json()) as { id: string }).id;
      await until(async () => (await deployment("lost"))?.state === "running", LONG);
      const state = async (c: string) =>
        (
          await engine().docker(["inspect", "-f", "{{.State.Status}}", appContainerName(appId, c)])
        ).stdout.trim();
      expect(await state("extra")).toBe("running");
      // The agent goes, and its records with it; meanwhile the application loses its second container.
      await agent.stop("SIGTERM");
      await rm(join(agentDir, "cache"), { recursive: true, force: true });
      await call("PATCH", `${APPS}/lost`, { spec: { containers: [sleeper("main", 2)] } });
      agent = startAgent();
      await until(async () => {
        const d = await deployment("lost");
        return d?.version === 2 && d.state === "running";
      }, LONG);
      // Docker's restart policy would have kept it running for ever: no record named it any more.
      expect(await state("extra")).toBe("");
      expect(await state("main")).toBe("running");
      expect((await call("DELETE", `${APPS}/lost`)).status).toBe(202);
      await until(async () => (await call("GET", `${APPS}/lost`)).status === 404, LONG);
      await until(async () => (await state("main")) === "", LONG);
    },
    3 * LONG,
  );
});
