import { readFileSync } from "node:fs";
import { mkdtemp, readFile } from "node:fs/promises";
import type { Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { serve } from "@hono/node-server";
import { handle } from "hono/aws-lambda";
import { afterEach, describe, expect, it } from "vitest";
import { readSse, type SseEvent } from "../../cli/sse.ts";
import { buildAppDeps } from "../../hosts/app-deps.ts";
import { silentLogger } from "../../shared/adapters/logger.ts";
import { createApp } from "../../shared/app/create-app.ts";
import { AppConfig } from "../../shared/config.ts";
import { newServerSecret } from "../../shared/domain/secrets.ts";
import { type AgentProcess, startAgentProcess } from "../helpers/agent-process.ts";
import { type AgentProxy, agentProxy } from "../helpers/agent-proxy.ts";
import { firstDevice, registerAgent, reserve } from "../helpers/agents.ts";
import { type TestApp, testApp } from "../helpers/app.ts";
import { createToken } from "../helpers/fleet.ts";
import { gpuAgent, start, submit } from "../helpers/jobs.ts";
import { serveLambdaUrl } from "../helpers/lambda-url.ts";
import { runCli, spawnCli } from "../helpers/processes.ts";
import { until } from "../helpers/wait.ts";

const TLS = resolve(import.meta.dirname, "../fixtures/tls");
const CERT = join(TLS, "localhost-cert.pem");

/**
 * How agents are hosted (issue 13): a control plane may send agents to another URL (AWS: the agent function
 * or the long-running service), and may not hold polls at all (short polling: come back later).
 */
describe("agent hosting", () => {
  let http: Server | undefined;
  let agent: AgentProcess | undefined;
  let proxy: AgentProxy | undefined;
  afterEach(async () => {
    await agent?.stop("SIGKILL");
    await proxy?.close();
    http?.closeAllConnections();
    http?.close();
  });

  /** The app on a port; `agentEndpoint` may name a proxy in front of the same app (made once the port is known). */
  async function hosted(
    config: Partial<AppConfig>,
    withProxy = false,
    agentEnv: Record<string, string> = {},
    tls = false,
  ) {
    let proxyUrl = "";
    const t: TestApp = await testApp({
      config: { pollWaitCapSeconds: 5, ...config },
    });
    const server = await new Promise<Server>((resolve) => {
      const s = serve(
        {
          fetch: t.app.fetch,
          port: 0,
          hostname: "127.0.0.1",
          ...(tls
            ? {
                createServer: createHttpsServer,
                serverOptions: {
                  key: readFileSync(join(TLS, "localhost-key.pem")),
                  cert: readFileSync(CERT),
                },
              }
            : {}),
        },
        () => resolve(s as Server),
      );
    });
    http = server;
    const url = `${tls ? "https" : "http"}://127.0.0.1:${(server.address() as AddressInfo).port}`;
    if (withProxy) {
      proxy = await agentProxy(url);
      proxyUrl = proxy.url;
      // Where the control plane sends agents after login: the "agent service" in front of the same app.
      (t.deps.config as { agentEndpoint?: string }).agentEndpoint = proxyUrl;
    }
    const { token } = await createToken(t);
    const dir = await mkdtemp(join(tmpdir(), "berth-agent-"));
    agent = startAgentProcess(
      ["--endpoint", url, "--token", token, "--data-dir", dir, "--runtime", "process"],
      agentEnv,
    );
    const deviceId = await firstDevice(t, 30_000);
    const stateOf = async (id: string) =>
      (
        (await (await t.call("GET", `/api/v1/reservations/${id}`, { token: t.admin })).json()) as {
          state: string;
        }
      ).state;
    return { t, url, deviceId, stateOf, dir };
  }

  it("talks HTTPS to a control plane with a certificate it trusts (NODE_EXTRA_CA_CERTS), and refuses one it does not", async () => {
    const { t, deviceId, stateOf } = await hosted({}, false, { NODE_EXTRA_CA_CERTS: CERT }, true);
    const r = await reserve(t, deviceId);
    await until(async () => (await stateOf(r.id)) === "ok", 30_000);
    await agent!.stop("SIGKILL");
    // Without the CA: no login, and the agent says why.
    const { token } = await createToken(t);
    agent = startAgentProcess([
      "--endpoint",
      `https://127.0.0.1:${(http!.address() as AddressInfo).port}`,
      "--token",
      token,
      "--data-dir",
      await mkdtemp(join(tmpdir(), "berth-agent-")),
      "--runtime",
      "process",
    ]);
    await until(async () => /self[- ]signed certificate|SELF_SIGNED/i.test(agent!.stderr()), 30_000);
  });

  it("an agent told another endpoint at login sends everything after it there", async () => {
    const { t, deviceId, stateOf } = await hosted({}, true);
    const r = await reserve(t, deviceId);
    await until(async () => (await stateOf(r.id)) === "ok", 30_000);
    // The proxy logs a request once it has forwarded the answer.
    const paths = () => proxy!.requests.map((x) => `${x.method} ${x.path.split("?")[0]}`);
    await until(async () => paths().includes(`PUT /api/v1/agent/reservations/${r.id}/result`), 10_000);
    expect(paths()).toContain("GET /api/v1/agent/reservations");
    expect(paths()).not.toContain("POST /api/v1/login");
  });

  it("a relogin keeps the agent endpoint that answered it, and falls back to the registered URL when it is gone", async () => {
    const { t, url, dir } = await hosted({}, true);
    const identity = async () =>
      JSON.parse(await readFile(join(dir, "identity.json"), "utf8")) as { agentEndpoint?: string };
    // Written once the login's answer is recorded.
    await until(
      async () => (await identity().catch(() => ({ agentEndpoint: undefined }))).agentEndpoint === proxy!.url,
      30_000,
    );
    // The agent host does not know its own URL: its login answers name none.
    (t.deps.config as { agentEndpoint?: string }).agentEndpoint = undefined;
    const relogin = async (label: string) => {
      await agent!.stop("SIGTERM");
      agent = startAgentProcess([
        "--data-dir",
        dir,
        "--runtime",
        "process",
        "--node-labels",
        `{"try":"${label}"}`,
      ]);
      await until(async () => {
        const d = (await (await t.call("GET", "/api/v1/devices", { token: t.admin })).json()) as {
          items: { labels: Record<string, string> }[];
        };
        return d.items[0]?.labels.try === label;
      }, 30_000);
    };
    await relogin("one").catch((e) => {
      throw new Error(`${e}\n${agent!.stderr().slice(-3000)}`);
    });
    await until(async () => proxy!.requests.some((x) => x.path === "/api/v1/login"), 30_000);
    await until(async () => (await identity()).agentEndpoint === proxy!.url, 30_000);
    // The agent host goes away: the next relogin is made at the URL the agent registered at.
    await proxy!.close();
    proxy = undefined;
    await relogin("two").catch((e) => {
      throw new Error(`${e}\n${agent!.stderr().slice(-3000)}`);
    });
    await until(async () => (await identity()).agentEndpoint === undefined, 30_000);
    expect(url).toMatch(/^http:/);
  }, 120_000);

  it("an agent whose agent endpoint stops answering polls its registered URL meanwhile, and moves where login says", async () => {
    const { t, url, deviceId, stateOf } = await hosted({}, true, {
      BERTH_AGENT_ENDPOINT_FALLBACK_SECONDS: "1",
    });
    const first = await reserve(t, deviceId);
    await until(async () => (await stateOf(first.id)) === "ok", 30_000);
    const gone = proxy!.url;
    await proxy!.close();
    proxy = undefined;
    // Login still names the host that is gone: the registered URL stands in (every host serves agent routes).
    const second = await reserve(t, deviceId);
    await until(async () => (await stateOf(second.id)) === "ok", 30_000);
    expect(agent!.stderr()).toMatch(/the agent endpoint did not answer; moved/);
    // Said once per outage, and its end with how long it lasted.
    expect(agent!.stderr().match(/lost the control plane/g)?.length).toBeGreaterThanOrEqual(1);
    expect(agent!.stderr()).toMatch(/"msg":"reconnected to the control plane","afterSeconds":\d+/);
    expect(agent!.stderr()).toContain(`"to":"${url}"`);
    // The hosting changed: login now names another agent host; once the agent tries again, it goes there.
    const next = await agentProxy(url);
    proxy = next;
    (t.deps.config as { agentEndpoint?: string }).agentEndpoint = next.url;
    await until(() => agent!.stderr().includes(`"to":"${next.url}"`), 60_000);
    const third = await reserve(t, deviceId);
    await until(async () => (await stateOf(third.id)) === "ok", 30_000);
    await until(
      () => next.requests.some((x) => x.path.startsWith(`/api/v1/agent/reservations/${third.id}/`)),
      10_000,
    );
    expect(gone).not.toBe(next.url);
  }, 120_000);

  it("short polling: polls are answered at once with when to come back, and the agent follows it", async () => {
    const { t, deviceId, stateOf } = await hosted({ pollMode: "short", shortPollSeconds: 1 });
    // A poll asking to wait 5 s is answered at once, empty, saying when to come back.
    const sim = await registerAgent(t);
    const boot = await sim.poll(0);
    const answer = await sim.poll(boot.next, 5);
    expect(answer).toMatchObject({ reservations: [], waitHintSeconds: 0, pollAfterSeconds: 1 });
    const r = await reserve(t, deviceId);
    await until(async () => (await stateOf(r.id)) === "ok", 30_000);
  });
});

describe("following where the API cannot hold a stream", () => {
  it("the API answers follow requests 307 to the agent endpoint, and berth jobs logs -f follows it there", async () => {
    const t = await testApp({ config: { pollWaitCapSeconds: 5 } });
    const serveApp = (fetch: (r: Request) => Response | Promise<Response>) =>
      new Promise<Server>((resolve) => {
        const s = serve({ fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s as Server));
      });
    const urlOf = (s: Server) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
    // The API (redirects follows) and the "service" (streams them): two hosts on one database.
    const api = await serveApp(t.app.fetch);
    const apiUrl = urlOf(api);
    const serviceApp = createApp(
      buildAppDeps({
        store: t.db,
        serverSecret: newServerSecret(),
        logger: silentLogger,
        config: AppConfig.parse({}),
      }),
    );
    const serviceHttp = await serveApp(serviceApp.fetch);
    const service = await agentProxy(urlOf(serviceHttp));
    try {
      Object.assign(t.deps.config, { agentEndpoint: service.url, followMode: "redirect" });
      const agent = await gpuAgent(t, 0);
      const { body } = await submit(t, {});
      const r = await start(agent, body.id);
      await t.call("POST", `/api/v1/agent/reservations/${r.id}/output`, {
        token: agent.session,
        body: { chunks: [{ stream: "stdout", seq: 1, data: "hello\n" }] },
      });
      await agent.result(r, "ok", { exitCode: 0 });

      const res = await fetch(`${apiUrl}/api/v1/jobs/${body.id}/output?follow=true`, {
        headers: { authorization: `Bearer ${t.admin}` },
        redirect: "manual",
      });
      expect(res.status).toBe(307);
      expect(res.headers.get("location")).toBe(`${service.url}/api/v1/jobs/${body.id}/output?follow=true`);
      // Plain reads are answered by the API itself.
      expect((await t.call("GET", `/api/v1/jobs/${body.id}/output`, { token: t.admin })).status).toBe(200);

      // The CLI is told the API's URL only: it follows the redirect, with its key, and the service streams.
      const logs = await runCli(["--endpoint", apiUrl, "--api-key", t.admin, "jobs", "logs", "-f", body.id]);
      expect(logs).toMatchObject({ code: 0, stdout: "hello\n" });
      const followed = service.requests.filter(
        (x) => x.path.startsWith(`/api/v1/jobs/${body.id}/output?`) && x.path.includes("follow=true"),
      );
      expect(followed.length).toBeGreaterThan(0);
    } finally {
      await service.close();
      for (const s of [api, serviceHttp]) {
        s.closeAllConnections();
        s.close();
      }
    }
  });
});

describe("following through a host that buffers its answers (BERTH_FOLLOW_MODE=window)", () => {
  const output = (t: TestApp, session: string, id: string, seq: number, data: string) =>
    t.call("POST", `/api/v1/agent/reservations/${id}/output`, {
      token: session,
      body: { chunks: [{ stream: "stdout", seq, data }] },
    });

  it("ends each follow answer with continue: after its window when quiet, about a second after output", async () => {
    const t = await testApp({ config: { followMode: "window", followWindowSeconds: 1 } });
    const agent = await gpuAgent(t, 0);
    const { body } = await submit(t, {});
    const r = await start(agent, body.id);
    const follow = async (after?: string) => {
      const path = `/api/v1/jobs/${body.id}/output?follow=true${after ? `&after=${after}` : ""}`;
      const res = await t.call("GET", path, { token: t.admin });
      expect(res.status).toBe(200);
      const events: SseEvent[] = [];
      for await (const e of readSse(res.body!)) events.push(e);
      return events;
    };
    expect((await follow()).map((e) => e.event)).toEqual(["status", "continue"]);
    await output(t, agent.session, r.id, 1, "a\n");
    const first = await follow();
    expect(first.map((e) => e.event)).toEqual(["status", "output", "continue"]);
    expect(first[1]).toMatchObject({ id: "1" });
    await output(t, agent.session, r.id, 2, "b\n");
    await agent.result(r, "ok", { exitCode: 0 });
    // From the cursor: the rest, and the end (no continue after complete).
    const rest = await follow("1");
    expect(rest.map((e) => e.event)).toEqual(["status", "output", "complete"]);
    expect(JSON.parse(rest[1]!.data)).toMatchObject({ data: "b\n" });
  });

  it("berth jobs logs -f through the API as a buffering Lambda prints the output as it comes, window after window", async () => {
    const t = await testApp({ config: { followMode: "window", followWindowSeconds: 2 } });
    // The API as a function URL in buffered mode serves it: hono/aws-lambda's handle, the whole answer at once.
    const lambda = await serveLambdaUrl(handle(t.app));
    try {
      const agent = await gpuAgent(t, 0);
      const { body } = await submit(t, {});
      const r = await start(agent, body.id);
      await output(t, agent.session, r.id, 1, "first\n");
      const cli = spawnCli(["--endpoint", lambda.url, "--api-key", t.admin, "jobs", "logs", "-f", body.id]);
      // Printed before the job wrote more: an answer ended and the CLI asked for the next window.
      await until(() => cli.stdout() === "first\n", 30_000);
      await output(t, agent.session, r.id, 2, "second\n");
      await until(() => cli.stdout() === "first\nsecond\n", 30_000);
      await agent.result(r, "ok", { exitCode: 0 });
      expect(await cli.exited).toBe(0);
      expect(cli.stdout()).toBe("first\nsecond\n");
      // Windows ending as planned are not lost connections.
      expect(cli.stderr()).not.toMatch(/connection lost|reconnect/);
    } finally {
      await lambda.close();
    }
  });
});
