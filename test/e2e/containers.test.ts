import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import { afterAll, beforeAll, expect, it } from "vitest";
import { containerName } from "../../agent/runtimes/docker.ts";
import { type AgentProcess, startAgentProcess } from "../helpers/agent-process.ts";
import { firstDevice } from "../helpers/agents.ts";
import { type TestApp, testApp } from "../helpers/app.ts";
import { describeWithDocker, TEST_IMAGE } from "../helpers/docker-engine.ts";
import { createToken } from "../helpers/fleet.ts";
import { control, type JobView, job, submit } from "../helpers/jobs.ts";
import { freePort } from "../helpers/ports.ts";
import { spawnCli } from "../helpers/processes.ts";
import { until } from "../helpers/wait.ts";

const LONG = 60_000;
const tmp = (prefix: string) => mkdtemp(join(tmpdir(), `berth-${prefix}-`));
/** Each test's own limit: its waits (LONG each) are what bound it. */
const TEST_MS = 3 * LONG;
/**
 * A busybox loop that runs until stopped (after `ready`, so a test knows its trap is set). The shell waits
 * with `wait`, which a trapped signal interrupts: its handler runs at once, not after a `sleep`. It ends in
 * a plain command because a job's command gets ` "$@"` appended (`done "$@"` is a syntax error).
 */
const loop = (trap: string) => `${trap}; echo ready; while :; do sleep 1 & wait $!; done; exit 0`;

/**
 * Container reservations and jobs on a real Docker engine (a dockerd of the test's own, see
 * helpers/docker-engine.ts), run by the real agent process against the app served in this process.
 */
describeWithDocker("containers on a real Docker engine", (engine) => {
  let t: TestApp;
  let http: Server;
  let url: string;
  let token: string;
  let agentDir: string;
  let agent: AgentProcess;
  let deviceId: string;
  const cleanup: string[] = [];
  const jobs: string[] = [];
  const reservations: string[] = [];

  let secretsRoot: string;
  const startAgent = () =>
    startAgentProcess(["--endpoint", url, "--token", token, "--data-dir", agentDir, "--runtime", "docker"], {
      DOCKER_HOST: engine().host,
      BERTH_AGENT_SECRETS_ROOT: secretsRoot,
    });

  beforeAll(async () => {
    t = await testApp({ config: { pollWaitCapSeconds: 5 } });
    http = await new Promise((resolve) => {
      const s = serve({ fetch: t.app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s as Server));
    });
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    agentDir = await tmp("agent-docker");
    secretsRoot = await mkdtemp("/dev/shm/berth-test-secrets-");
    cleanup.push(agentDir, secretsRoot);
    token = (await createToken(t)).token;
    agent = startAgent();
    deviceId = await firstDevice(t, LONG);
  }, 90_000);
  afterAll(async () => {
    await agent?.stop("SIGKILL");
    // What the agent left (a finished job's container stays until its reservation ends), on an engine of
    // BERTH_TEST_DOCKER_HOST too.
    const jobReservations = await Promise.all(
      jobs.map(async (id) => (await t.deps.repos.jobs.get(id))?.reservationId),
    );
    const names = [...reservations, ...jobReservations].flatMap((id) => (id ? [containerName(id)] : []));
    if (names.length > 0) await engine().docker(["rm", "-f", ...names]);
    http?.closeAllConnections();
    http?.close();
    await Promise.all(cleanup.map((d) => rm(d, { recursive: true, force: true })));
  });

  const runJob = async (body: Record<string, unknown>) => {
    const { status, body: created } = await submit(t, {
      exe: undefined,
      args: [],
      container: { image: TEST_IMAGE },
      ...body,
    });
    expect(status).toBe(201);
    jobs.push(created.id);
    return created.id;
  };
  const jobUntil = async (id: string, check: (j: JobView) => boolean, ms = LONG) => {
    await until(async () => check(await job(t, id)), ms);
    return job(t, id);
  };
  const jobOutput = async (id: string) => {
    const res = await t.call("GET", `/api/v1/jobs/${id}/output`, { token: t.admin });
    // 404: no output yet.
    if (res.status === 404) return { stdout: "", stderr: "", complete: false };
    const body = (await res.json()) as { output: { stream: string; data: string }[]; complete: boolean };
    const text = (stream: string) =>
      body.output
        .filter((l) => l.stream === stream)
        .map((l) => l.data)
        .join("");
    return { stdout: text("stdout"), stderr: text("stderr"), complete: body.complete };
  };
  /** The job's container, by the name the agent gives it (from its reservation). */
  const containerOf = async (jobId: string) =>
    containerName((await t.deps.repos.jobs.get(jobId))!.reservationId!);
  const containersOf = async (reservationId: string) =>
    (await engine().docker(["ps", "-a", "--filter", `label=berth.reservation=${reservationId}`, "-q"])).stdout
      .split("\n")
      .filter(Boolean);

  const reserve = async (data: Record<string, unknown>) => {
    const res = await t.call("POST", "/api/v1/reservations", {
      token: t.admin,
      body: { nodeId: deviceId, type: "container", data: { image: TEST_IMAGE, ...data }, duration: 600 },
    });
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: string };
    reservations.push(id);
    return id;
  };
  const reservation = async (id: string) =>
    (await (await t.call("GET", `/api/v1/reservations/${id}`, { token: t.admin })).json()) as {
      state: string;
      result?: { state: string; error: string; data: string };
    };
  const reservationOutput = async (id: string) =>
    (
      (await (await t.call("GET", `/api/v1/reservations/${id}/output`, { token: t.admin })).json()) as {
        items: { data: string }[];
      }
    ).items
      .map((c) => c.data)
      .join("");

  it(
    "runs a job in its image: its environment, stdout and stderr apart, and its exit code",
    async () => {
      const id = await runJob({
        command: 'echo "hello $GREETING"; echo oops >&2; exit 3',
        environment: [{ name: "GREETING", value: "from berth" }],
      });
      expect(await jobUntil(id, (j) => j.status === "Finished")).toMatchObject({
        statusCode: "Exited",
        exitCode: 3,
      });
      await until(async () => (await jobOutput(id)).complete, LONG);
      expect(await jobOutput(id)).toEqual({ stdout: "hello from berth\n", stderr: "oops\n", complete: true });
    },
    TEST_MS,
  );

  it(
    "reads a file from a bind-mounted host directory, and cannot write to it when it is read-only",
    async () => {
      const dir = await tmp("mount");
      cleanup.push(dir);
      await writeFile(join(dir, "greeting.txt"), "hi from the host\n");
      const id = await runJob({
        command: "cat /data/greeting.txt; touch /data/new 2>/dev/null && echo writable || echo read-only",
        mounts: [
          { mountPath: "/data", readOnly: true, mountSource: { type: "host", source: { path: dir } } },
        ],
      });
      expect(await jobUntil(id, (j) => j.status === "Finished")).toMatchObject({ exitCode: 0 });
      await until(async () => (await jobOutput(id)).complete, LONG);
      expect((await jobOutput(id)).stdout).toBe("hi from the host\nread-only\n");
      expect(existsSync(join(dir, "new"))).toBe(false);
    },
    TEST_MS,
  );

  it(
    "publishes a port: a server in the container answers on the host, and a stop ends it (SIGTERM, 143)",
    async () => {
      const www = await tmp("www");
      cleanup.push(www);
      await writeFile(join(www, "index.html"), "served from a container\n");
      const port = await freePort();
      const id = await runJob({
        exe: "httpd",
        args: ["-f", "-p", "8080", "-h", "/www"],
        mounts: [{ mountPath: "/www", readOnly: true, mountSource: { type: "host", source: { path: www } } }],
        exposedPorts: [{ targetPort: 8080, publishedPort: port, protocol: "TCP" }],
      });
      let body = "";
      await until(async () => {
        body = await fetch(`http://127.0.0.1:${port}/index.html`)
          .then((r) => (r.ok ? r.text() : ""))
          .catch(() => "");
        return body !== "";
      }, LONG);
      expect(body).toBe("served from a container\n");
      // httpd sets no SIGTERM handler: it ends at once only because docker-init, not httpd, is PID 1.
      expect((await control(t, id, "stop")).status).toBe(200);
      expect(await jobUntil(id, (j) => j.status === "Finished")).toMatchObject({
        statusCode: "UserStop",
        exitCode: 143,
      });
    },
    TEST_MS,
  );

  it(
    "runs a job with its resource limits (docker run --cpus, --memory, --memory-swap) and reports the host port Docker chose",
    async () => {
      const id = await runJob({
        exe: "httpd",
        args: ["-f", "-p", "8080", "-h", "/"],
        exposedPorts: ["8080/tcp"],
        resourceLimits: [
          { type: "cpuCount", value: "0.5" },
          { type: "memory", value: "128" },
          { type: "memorySwap", value: "64" },
        ],
      });
      await jobUntil(id, (j) => j.status === "Running");
      const name = await containerOf(id);
      const inspected = (
        await engine().docker([
          "inspect",
          "-f",
          "{{.HostConfig.NanoCpus}} {{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}",
          name,
        ])
      ).stdout.trim();
      const [cpus, memory, swap] = inspected.split(" ");
      expect([cpus, memory]).toEqual(["500000000", String(128 * 2 ** 20)]);
      // Without swap accounting in the kernel Docker keeps no swap limit (-1) and says so.
      expect(["-1", String(192 * 2 ** 20)]).toContain(swap);
      const hostPort = /:(\d+)\s*$/m.exec((await engine().docker(["port", name, "8080/tcp"])).stdout)?.[1];
      expect(hostPort).toBeDefined();
      type Net = { endpoints?: string[]; ipAddresses: string[]; berth: { partial: boolean } };
      let net: Net | undefined;
      await until(async () => {
        const res = await t.call("GET", `/api/v1/jobs/${id}/network`, { token: t.admin });
        net = res.status === 200 ? ((await res.json()) as Net) : undefined;
        return net?.endpoints !== undefined;
      }, LONG);
      expect(net!.berth.partial).toBe(false);
      expect(net!.endpoints!.some((e) => e.endsWith(`:${hostPort}/tcp`))).toBe(true);
      expect((await control(t, id, "kill")).status).toBe(200);
      await jobUntil(id, (j) => j.status === "Killed");
    },
    TEST_MS,
  );

  it(
    "berth run -p says the job's endpoints once it runs",
    async () => {
      const run = spawnCli([
        "--endpoint",
        url,
        "--api-key",
        t.admin,
        "run",
        "--image",
        TEST_IMAGE,
        "-p",
        "8080",
        "--",
        "httpd",
        "-f",
        "-p",
        "8080",
        "-h",
        "/",
      ]);
      try {
        await until(async () => /berth: endpoints: \S+:\d+\/tcp/.test(run.stderr()), LONG);
        const id = /^berth: job (\w+) /m.exec(run.stderr())![1]!;
        jobs.push(id);
        const [, port] = /endpoints: \S+:(\d+)\/tcp/.exec(run.stderr())!;
        expect((await engine().docker(["port", await containerOf(id), "8080/tcp"])).stdout).toContain(
          `:${port}`,
        );
        expect((await control(t, id, "kill")).status).toBe(200);
      } finally {
        run.child.kill("SIGKILL");
      }
    },
    TEST_MS,
  );

  it(
    "reports a container's network again when a restarted agent finds it changed",
    async () => {
      const id = await runJob({
        exe: "httpd",
        args: ["-f", "-p", "8080", "-h", "/"],
        exposedPorts: ["8080/tcp"],
      });
      await jobUntil(id, (j) => j.status === "Running");
      const name = await containerOf(id);
      const endpoints = async () => {
        const res = await t.call("GET", `/api/v1/jobs/${id}/network`, { token: t.admin });
        return res.status === 200 ? ((await res.json()) as { endpoints?: string[] }).endpoints : undefined;
      };
      await until(async () => (await endpoints()) !== undefined, LONG);
      const hostPort = async () =>
        /:(\d+)\s*$/m.exec((await engine().docker(["port", name, "8080/tcp"])).stdout)?.[1];
      const before = await hostPort();
      await agent.stop("SIGKILL");
      // While the agent is away its container is restarted: Docker publishes the port anew.
      await engine().docker(["restart", "-t", "0", name]);
      const after = await hostPort();
      agent = startAgent();
      await until(async () => ((await endpoints()) ?? []).some((e) => e.endsWith(`:${after}/tcp`)), LONG);
      // Docker allocates host ports in turn: the restart got another one.
      expect(after).not.toBe(before);
      expect((await endpoints())!.some((e) => e.endsWith(`:${before}/tcp`))).toBe(false);
      expect((await control(t, id, "kill")).status).toBe(200);
      await jobUntil(id, (j) => j.status === "Killed");
    },
    TEST_MS,
  );

  it(
    "stops a job with SIGTERM: its handler runs, and its exit code is the job's",
    async () => {
      const id = await runJob({ command: loop("trap 'echo got TERM; exit 7' TERM") });
      await until(async () => (await jobOutput(id)).stdout === "ready\n", LONG);
      expect((await control(t, id, "stop")).status).toBe(200);
      expect(await jobUntil(id, (j) => j.status === "Finished")).toMatchObject({
        statusCode: "UserStop",
        exitCode: 7,
      });
      await until(async () => (await jobOutput(id)).complete, LONG);
      expect((await jobOutput(id)).stdout).toBe("ready\ngot TERM\n");
    },
    TEST_MS,
  );

  it(
    "kills a job that ignores SIGTERM: Killed, 137",
    async () => {
      const id = await runJob({ command: loop("trap '' TERM") });
      await until(async () => (await jobOutput(id)).stdout === "ready\n", LONG);
      expect((await control(t, id, "kill")).status).toBe(200);
      expect(await jobUntil(id, (j) => j.status === "Killed")).toMatchObject({
        statusCode: "UserKill",
        exitCode: 137,
      });
    },
    TEST_MS,
  );

  it(
    "suspends a job (docker pause) and resumes it (docker unpause)",
    async () => {
      const id = await runJob({ command: loop("true") });
      await until(async () => (await jobOutput(id)).stdout === "ready\n", LONG);
      const name = await containerOf(id);
      const paused = async () =>
        (await engine().docker(["inspect", "-f", "{{.State.Paused}}", name])).stdout.trim();
      expect((await control(t, id, "suspend")).status).toBe(200);
      await jobUntil(id, (j) => j.status === "Suspended");
      await until(async () => (await paused()) === "true", LONG);
      expect((await control(t, id, "resume")).status).toBe(200);
      await jobUntil(id, (j) => j.status === "Running");
      await until(async () => (await paused()) === "false", LONG);
      expect((await control(t, id, "kill")).status).toBe(200);
      await jobUntil(id, (j) => j.status === "Killed");
    },
    TEST_MS,
  );

  it(
    "removing a reservation whose container does not end on SIGTERM SIGKILLs it after the grace period, and removes it",
    async () => {
      const id = await reserve({
        command: ["sh", "-c", loop("trap 'echo got TERM, staying' TERM")],
        stopGracePeriodSeconds: 5,
      });
      await until(async () => (await reservationOutput(id)) === "ready\n", LONG);
      await t.call("DELETE", `/api/v1/reservations/${id}`, { token: t.admin });
      await until(async () => (await reservation(id)).state === "deleted", LONG);
      const result = (await reservation(id)).result!;
      expect(result.state).toBe("ok");
      expect(JSON.parse(result.data)).toEqual({ exitCode: 137, stoppedBy: "removal" });
      // It had the SIGTERM, did not end, and was killed: everything it printed got out first.
      expect(await reservationOutput(id)).toBe("ready\ngot TERM, staying\n");
      expect(await containersOf(id)).toEqual([]);
    },
    TEST_MS,
  );

  it(
    "fails a job whose image cannot be pulled with ImagePullFailed, saying why",
    async () => {
      const id = await runJob({ container: { image: "berth-test/no-such-image:1" }, exe: "true" });
      const failed = await jobUntil(id, (j) => j.status === "Failed", 120_000);
      expect(failed.statusCode).toBe("ImagePullFailed");
      expect(failed.statusMessage).toContain("could not pull berth-test/no-such-image:1: ");
      expect(failed.statusMessage).not.toContain("--help");
    },
    TEST_MS,
  );

  it(
    "fails a job whose mount source does not exist with LaunchFailed, creating nothing on the host",
    async () => {
      const missing = join(await tmp("no-source"), "not-there");
      cleanup.push(join(missing, ".."));
      const id = await runJob({
        exe: "true",
        mounts: [{ mountPath: "/data", mountSource: { type: "host", source: { path: missing } } }],
      });
      const failed = await jobUntil(id, (j) => j.status === "Failed");
      expect(failed.statusCode).toBe("LaunchFailed");
      expect(failed.statusMessage).toContain(`bind source path does not exist: ${missing}`);
      expect(existsSync(missing)).toBe(false);
    },
    TEST_MS,
  );

  it(
    "answers a container that cannot start with an error result, and leaves no container behind",
    async () => {
      const id = await reserve({ command: ["true"], user: "nosuchuser" });
      await until(async () => (await reservation(id)).result !== undefined, LONG);
      expect((await reservation(id)).result).toMatchObject({
        state: "error",
        error: expect.stringMatching(/^docker run failed: .*unable to find user nosuchuser/),
      });
      expect(await containersOf(id)).toEqual([]);
    },
    TEST_MS,
  );

  it(
    "ends a job whose program is not in the image with exit code 127, saying so on stderr",
    async () => {
      const id = await runJob({ exe: "/no/such/program" });
      // docker-init (PID 1) is what cannot exec it: the container started, the program never did.
      expect(await jobUntil(id, (j) => j.status === "Finished")).toMatchObject({ exitCode: 127 });
      await until(async () => (await jobOutput(id)).complete, LONG);
      expect((await jobOutput(id)).stderr).toContain(
        "exec /no/such/program failed: No such file or directory",
      );
    },
    TEST_MS,
  );

  it(
    "re-attaches to a running container after an agent restart: output goes on, one run, its result",
    async () => {
      const dir = await tmp("restart");
      cleanup.push(dir);
      const id = await runJob({
        command: [
          "echo run >> /m/runs",
          "echo first",
          "until [ -e /m/go-on ]; do sleep 0.1; done",
          "echo second",
          "until [ -e /m/finish ]; do sleep 0.1; done",
          "echo third",
          "exit 5",
        ].join("; "),
        mounts: [{ mountPath: "/m", mountSource: { type: "host", source: { path: dir } } }],
      });
      await until(async () => (await jobOutput(id)).stdout === "first\n", LONG);
      const reservationId = (await t.deps.repos.jobs.get(id))!.reservationId!;
      expect(await agent.stop("SIGKILL")).toBeNull();
      // With no agent running, the container goes on and its logs are still copied to the agent's files.
      await writeFile(join(dir, "go-on"), "");
      const stdoutFile = join(agentDir, "workloads", reservationId, "stdout");
      await until(async () => (await readFile(stdoutFile, "utf8")) === "first\nsecond\n", LONG);
      agent = startAgent();
      await until(async () => (await jobOutput(id)).stdout === "first\nsecond\n", LONG);
      expect(await containersOf(reservationId)).toHaveLength(1);
      await writeFile(join(dir, "finish"), "");
      expect(await jobUntil(id, (j) => j.status === "Finished")).toMatchObject({ exitCode: 5 });
      await until(async () => (await jobOutput(id)).complete, LONG);
      expect((await jobOutput(id)).stdout).toBe("first\nsecond\nthird\n");
      expect(await readFile(join(dir, "runs"), "utf8")).toBe("run\n");
    },
    TEST_MS,
  );

  it(
    "delivers secrets to a container: env through a file deleted once read, files read-only at their path and owned by its user",
    async () => {
      const hf = "hf_container_value_42";
      const db = '{"pw":"container-db-9"}';
      for (const body of [
        { name: "hf", type: "Environment", data: hf },
        { name: "db", type: "File", data: db },
      ])
        expect((await t.call("POST", "/api/v1/secrets", { token: t.admin, body })).status).toBe(201);
      const id = await runJob({
        container: { image: TEST_IMAGE, runAsUserId: 1000 },
        command: [
          "id -u",
          "stat -c '%u %a' /run/secrets/db.json",
          'echo "$HF_TOKEN" | md5sum',
          "md5sum < /run/secrets/db.json",
          'echo "token $HF_TOKEN"',
          "touch /run/secrets/db.json 2>/dev/null && echo writable || echo read-only",
        ].join("; "),
        secrets: [
          { name: "hf", env: "HF_TOKEN" },
          { name: "db", path: "/run/secrets/db.json" },
        ],
      });
      expect(await jobUntil(id, (j) => j.status === "Finished")).toMatchObject({ exitCode: 0 });
      await until(async () => (await jobOutput(id)).complete, LONG);
      const md5 = (v: string) => createHash("md5").update(v).digest("hex");
      // The value itself is masked in the output; its digest shows what the container read.
      expect((await jobOutput(id)).stdout).toBe(
        `1000\n1000 400\n${md5(`${hf}\n`)}  -\n${md5(db)}  -\ntoken ***\nread-only\n`,
      );
      // Nothing is left on the tmpfs once the job is over: no env file, no files.
      await until(
        async () => (await readdir(join(secretsRoot, "secrets")).catch(() => [])).length === 0,
        LONG,
      );
    },
    TEST_MS,
  );

  it(
    "writes a running container's secret files again when the agent comes back to an empty tmpfs (a reboot)",
    async () => {
      const value = "file-after-reboot-77";
      await t.call("POST", "/api/v1/secrets", {
        token: t.admin,
        body: { name: "boot", type: "File", data: value },
      });
      const id = await runJob({
        command: loop("trap 'exit 0' TERM"),
        secrets: [{ name: "boot", path: "/etc/boot.txt" }],
      });
      await until(async () => (await jobOutput(id)).stdout === "ready\n", LONG);
      const reservationId = (await t.deps.repos.jobs.get(id))!.reservationId!;
      const file = join(secretsRoot, "secrets", reservationId, "etc", "boot.txt");
      expect(await readFile(file, "utf8")).toBe(value);
      expect(await agent.stop("SIGKILL")).toBeNull();
      await rm(join(secretsRoot, "secrets"), { recursive: true, force: true });
      agent = startAgent();
      await until(async () => (await readFile(file, "utf8").catch(() => "")) === value, LONG);
      expect((await stat(file)).mode & 0o777).toBe(0o400);
      expect((await control(t, id, "stop")).status).toBe(200);
      await jobUntil(id, (j) => j.status === "Finished" || j.status === "Killed");
    },
    TEST_MS,
  );

  it(
    "relies on Docker refusing a --mount bind whose source is missing (a secret file not yet rewritten after a reboot)",
    async () => {
      const missing = join(secretsRoot, "secrets", "never-written", "db.json");
      const res = await engine().docker([
        "run",
        "--rm",
        "--mount",
        `type=bind,source=${missing},target=/run/secrets/db.json,readonly`,
        TEST_IMAGE,
        "true",
      ]);
      expect(res.code).not.toBe(0);
      expect(res.stderr).toMatch(/bind source path does not exist/);
      expect(existsSync(missing)).toBe(false); // nor is it created (as -v would)
    },
    TEST_MS,
  );
});
