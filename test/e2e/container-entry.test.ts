import { type ChildProcess, spawn } from "node:child_process";
import { cpSync, existsSync, symlinkSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import { serve } from "@hono/node-server";
import { afterAll, beforeAll, expect, it } from "vitest";
import { SERVICE_ENVIRONMENT } from "../../infra/hosting.ts";
import { createApp } from "../../shared/app/create-app.ts";
import { newServerSecret } from "../../shared/domain/secrets.ts";
import { type AgentProcess, startAgentProcess } from "../helpers/agent-process.ts";
import {
  cmdOf,
  copiesFrom,
  envOf,
  instructionsOf,
  REPO_ROOT,
  readDockerfile,
} from "../helpers/dockerfile.ts";
import { sharedDynamoDbLocal } from "../helpers/dynamodb-local.ts";
import { onEngine } from "../helpers/engines.ts";
import { HttpAgent } from "../helpers/http-agent.ts";
import { invokeUrl } from "../helpers/lambda-url.ts";
import { freePort } from "../helpers/ports.ts";
import { apiClient, runCli, tempDir } from "../helpers/processes.ts";
import { until } from "../helpers/wait.ts";

/**
 * The agent service as infra/agents.ts deploys it, without Docker (its base image cannot be pulled here):
 * the runtime stage's files copied as the Dockerfile copies them, its CMD run with its ENV, plus what infra
 * sets and what SST links (`SST_RESOURCE_*`), on DynamoDB Local. The API is the API Lambda's composition
 * root (hosts/lambda.ts) in this process, on the same table, secret and BERTH_AGENT_ENDPOINT: an agent logs in
 * to the API, is sent to the service, and reservations made through the API reach it there. Node is this
 * machine's (the image has Node 22).
 */
const OPERATOR = "op".padEnd(48, "7");

/**
 * The provision queue, GPU cluster and secrets' KMS key SST links to the API and the service (nothing listens
 * at the queue; nothing here uses secrets, so KMS is never called).
 */
const LINKED_CLOUD = {
  SST_RESOURCE_SecretsKey: JSON.stringify({ id: "arn:aws:kms:us-east-1:000000000000:key/test" }),
  SST_RESOURCE_ProvisionQueue: JSON.stringify({ url: "http://127.0.0.1:9/000000000000/provision" }),
  SST_RESOURCE_GpuCluster: JSON.stringify({
    cluster: "berth-test-gpu",
    taskDefinition: "berth-test-job",
    container: "job",
    capacityProviders: "default=berth-test-l4",
    logGroup: "/berth/berth-test/jobs",
  }),
};

onEngine("dynamodb", "the service container's entry (Dockerfile CMD and ENV)", () => {
  const { final, stages } = readDockerfile();
  let entry: ChildProcess;
  let entryLog = "";
  let entryExit: Promise<number | null>;
  let serviceUrl: string;
  let apiServer: Server | undefined;
  let apiUrl: string;
  let admin: string;
  let agent: AgentProcess | undefined;
  let closeApi: (() => void) | undefined;
  const savedEnv = { ...process.env };
  const api = apiClient(
    () => apiUrl,
    () => admin,
  );

  beforeAll(async () => {
    const { endpoint } = await sharedDynamoDbLocal();
    const table = `container-${Date.now()}`;
    const secret = newServerSecret();
    const aws = {
      AWS_ACCESS_KEY_ID: "berthlocal",
      AWS_SECRET_ACCESS_KEY: "berthlocal",
      AWS_REGION: "us-east-1",
    };

    // A new stage's first step (README): the operator creates the workspace and its admin key (and the table).
    const created = await runCli(["workspaces", "create", "default"], {
      ...aws,
      BERTH_TABLE_NAME: table,
      BERTH_DYNAMODB_ENDPOINT: endpoint,
      BERTH_DATA_DIR: await tempDir("container-operator"),
    });
    expect(created.code, created.stderr).toBe(0);
    admin = /berth_sk_\S+/.exec(created.stdout)![0];

    // The image's /app: what the runtime stage copies from the build stage, and its package files. Its
    // node_modules here are the repository's (with dev dependencies, which the image does not have).
    const image = await tempDir("container-image");
    for (const { src, dest } of copiesFrom(final, stages[0]!.name!)) {
      cpSync(resolve(REPO_ROOT, src.replace(/^\/app\//, "")), resolve(image, dest), { recursive: true });
    }
    for (const file of ["package.json", "package-lock.json"])
      cpSync(join(REPO_ROOT, file), join(image, file));
    symlinkSync(join(REPO_ROOT, "node_modules"), join(image, "node_modules"));

    const cmd = cmdOf(final);
    expect(cmd[0]).toBe("node");
    const port = String(await freePort());
    entry = spawn(process.execPath, cmd.slice(1), {
      cwd: image,
      env: {
        PATH: process.env.PATH,
        ...envOf(final),
        ...SERVICE_ENVIRONMENT,
        // What SST injects into a linked service (infra/agents.ts links these), and ECS.
        SST_RESOURCE_App: JSON.stringify({ name: "berth", stage: "test" }),
        SST_RESOURCE_Table: JSON.stringify({ name: table, type: "sst.aws.Dynamo" }),
        SST_RESOURCE_ServerSecret: JSON.stringify({ value: secret, type: "sst.sst.Secret" }),
        ...LINKED_CLOUD,
        ...aws,
        // Here, not in AWS: DynamoDB Local, loopback on a free port, a data dir this user may write.
        BERTH_DYNAMODB_ENDPOINT: endpoint,
        HOST: "127.0.0.1",
        PORT: port,
        BERTH_DATA_DIR: await tempDir("container-data"),
        BERTH_LOG_LEVEL: "warn",
        BERTH_OPERATOR_TOKEN: OPERATOR,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    entry.stdout!.on("data", (d: Buffer) => {
      entryLog += d;
    });
    entry.stderr!.on("data", (d: Buffer) => {
      entryLog += d;
    });
    entryExit = new Promise((r) => entry.once("exit", (code) => r(code)));
    serviceUrl = `http://127.0.0.1:${port}`;
    await until(async () => {
      if (entry.exitCode !== null) throw new Error(`the entry exited with ${entry.exitCode}:\n${entryLog}`);
      return fetch(`${serviceUrl}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
    }, 60_000);

    // The API Lambda's composition root, on the same table and secret, as SST links them to the function.
    Object.assign(process.env, {
      ...aws,
      AWS_ENDPOINT_URL_DYNAMODB: endpoint,
      SST_RESOURCE_App: JSON.stringify({ name: "berth", stage: "test" }),
      SST_RESOURCE_Table: JSON.stringify({ name: table }),
      SST_RESOURCE_ServerSecret: JSON.stringify({ value: secret }),
      ...LINKED_CLOUD,
      BERTH_LOG_LEVEL: "silent",
      BERTH_AGENT_ENDPOINT: serviceUrl,
    });
    const { lambdaDeps } = await import("../../hosts/lambda.ts");
    const { deps } = lambdaDeps();
    closeApi = () => deps.feedWatcher.close();
    apiServer = await new Promise<Server>((ok) => {
      const s = serve({ fetch: createApp(deps).fetch, port: 0, hostname: "127.0.0.1" }, () =>
        ok(s as Server),
      );
    });
    apiUrl = `http://127.0.0.1:${(apiServer.address() as AddressInfo).port}`;
  }, 120_000);

  afterAll(async () => {
    await agent?.stop("SIGKILL");
    closeApi?.();
    apiServer?.closeAllConnections();
    await new Promise((r) => apiServer?.close(r) ?? r(undefined));
    if (entry && entry.exitCode === null) {
      entry.kill("SIGKILL");
      await entryExit;
    }
    process.env = savedEnv;
  });

  it("runs the Dockerfile's CMD as berth server on the linked table, with the infra's keep-alive", async () => {
    expect(instructionsOf(final, "EXPOSE")).toEqual([SERVICE_ENVIRONMENT.PORT]);
    const res = await fetch(`${serviceUrl}/healthz`);
    expect(res.status).toBe(200);
    // Node announces its keep-alive timeout: above the ALB's idle timeout (BERTH_KEEPALIVE_TIMEOUT_SECONDS).
    expect(res.headers.get("keep-alive")).toBe(
      `timeout=${SERVICE_ENVIRONMENT.BERTH_KEEPALIVE_TIMEOUT_SECONDS}`,
    );
    // A linked service creates no workspace and issues no admin key (it would land in the task's logs).
    expect(entryLog).not.toMatch(/berth_sk_/);
    expect(entryLog).toContain("admin key: none here");
    // The GPU cluster's settings come from its link, as the API Lambda's do (to read cloud jobs' logs).
    expect(entryLog).toContain("ECS cluster berth-test-gpu");
  });

  it("sends a real agent from the API to the service, where it polls and runs a reservation made through the API", async () => {
    const { token } = await api<{ token: string }>("POST", "/registration-tokens", { name: "container" });
    const agentDir = await tempDir("container-agent");
    agent = startAgentProcess(["--endpoint", apiUrl, "--token", token, "--data-dir", agentDir]);
    await until(async () => (await api<{ items: unknown[] }>("GET", "/devices")).items.length === 1, 30_000);
    const deviceId = (await api<{ items: { id: string }[] }>("GET", "/devices")).items[0]!.id;
    // The API's login answer names the service (BERTH_AGENT_ENDPOINT); every later request goes there.
    await until(() => /agent started/.test(agent!.stderr()), 20_000);
    const started = agent
      .stderr()
      .split("\n")
      .find((l) => l.includes("agent started"))!;
    expect(JSON.parse(started)).toMatchObject({ endpoint: serviceUrl });
    // Its boot sync is done (the cursor is saved) and its next poll waits on the service. (A reservation made
    // during a boot sync can be skipped: the sync lists reservations and reads the feed head concurrently.)
    await until(() => existsSync(join(agentDir, "cursor")), 20_000);

    // Signed by the API with the linked secret, delivered by the service, verified by the agent; its signed
    // result goes back through the service.
    const r = await api<{ id: string }>("POST", "/reservations", {
      nodeId: deviceId,
      type: "process",
      data: { argv: ["echo", "hello"] },
      duration: 600,
    });
    type View = { result?: { state: string; data: string } };
    await until(async () => (await api<View>("GET", `/reservations/${r.id}`)).result !== undefined, 30_000);
    const { result } = await api<View>("GET", `/reservations/${r.id}`);
    expect(result?.state, agent.stderr()).toBe("ok");
    expect(JSON.parse(result!.data)).toMatchObject({ exitCode: 0 });
  }, 90_000);

  it("wakes a poll held on the service with a reservation written by the API Lambda's handler, from the change check", async () => {
    await agent?.stop("SIGKILL");
    // The API as AWS invokes it: functions/api.ts's handler, given function-URL events, in this process.
    const { handler } = await import("../../functions/api.ts");
    const created = await invokeUrl<{ token: string }>(handler, "POST", "/api/v1/registration-tokens", {
      token: admin,
      body: { name: "wake" },
    });
    expect(created.status).toBe(201);
    const device = await HttpAgent.register(serviceUrl, created.body.token);
    await device.pollOnce(0);
    type Metrics = { polls: { waiting: number }; agents: { changeCheckRequests: number } };
    const serviceMetrics = async () =>
      (await (
        await fetch(`${serviceUrl}/api/v1/metrics`, { headers: { authorization: `Bearer ${OPERATOR}` } })
      ).json()) as Metrics;
    await until(async () => (await serviceMetrics()).polls.waiting === 0, 20_000);
    const checked = (await serviceMetrics()).agents.changeCheckRequests;
    for (let i = 0; i < 10; i++) {
      // Held up to the service's 55 s: an answer with the reservation is the wake-up, not the hold running out.
      const poll = device.pollOnce(Number(SERVICE_ENVIRONMENT.BERTH_POLL_WAIT_SECONDS));
      await until(async () => (await serviceMetrics()).polls.waiting === 1, 20_000);
      const r = await invokeUrl<{ id: string }>(handler, "POST", "/api/v1/reservations", {
        token: admin,
        body: { nodeId: device.deviceId, type: "debug", data: { i }, duration: 600 },
      });
      expect(r.status).toBe(201);
      expect((await poll).map((x) => x.id)).toEqual([r.body.id]);
    }
    expect(device.badSignatures).toBe(0);
    // Nothing but the service's shared change check could have told it of the other process's writes.
    expect((await serviceMetrics()).agents.changeCheckRequests).toBeGreaterThan(checked);
  }, 90_000);

  it("stops cleanly on SIGTERM, as ECS stops a task", async () => {
    await agent?.stop("SIGKILL");
    entry.kill("SIGTERM");
    expect(await entryExit, entryLog).toBe(0);
  }, 30_000);
});
