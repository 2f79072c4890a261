import { chmod, mkdtemp, writeFile } from "node:fs/promises";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reconnectDelay } from "../../cli/sse.ts";
import { type AgentProcess, startAgentProcess } from "../helpers/agent-process.ts";
import { type TestApp, testApp } from "../helpers/app.ts";
import { type GpuAgent, gpuAgent, start, submit } from "../helpers/jobs.ts";
import { freePort } from "../helpers/ports.ts";
import {
  adminKeyOf,
  apiClient,
  type ServerProcess,
  spawnCli,
  startServerProcess,
  tempDir,
} from "../helpers/processes.ts";
import { until } from "../helpers/wait.ts";

interface Sse {
  event: string;
  id?: string;
  data: string;
}

/** A follow stream read as it comes: its events and how many comment lines (keep-alives) it had. */
async function openStream(url: string, key: string, headers: Record<string, string> = {}) {
  const abort = new AbortController();
  const res = await fetch(url, {
    headers: { authorization: `Bearer ${key}`, ...headers },
    signal: abort.signal,
  });
  let text = "";
  const done = (async () => {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>)
        text += decoder.decode(chunk, { stream: true });
    } catch {
      // closed by us
    }
  })();
  const blocks = () => text.split("\n\n").slice(0, -1);
  const events = (): Sse[] =>
    blocks()
      .map((b) => b.split("\n").filter((l) => !l.startsWith(":")))
      .filter((lines) => lines.length > 0)
      .map((lines) => {
        const field = (name: string) =>
          lines.filter((l) => l.startsWith(`${name}: `)).map((l) => l.slice(name.length + 2));
        return { event: field("event")[0] ?? "message", id: field("id")[0], data: field("data").join("\n") };
      });
  return {
    res,
    done,
    events,
    comments: () => text.split("\n").filter((l) => l.startsWith(":")).length,
    close: async () => {
      abort.abort();
      await done;
    },
  };
}

const outputs = (events: Sse[]) => events.filter((e) => e.event === "output");
const data = (events: Sse[]) => outputs(events).map((e) => (JSON.parse(e.data) as { data: string }).data);
const lifecycle = (events: Sse[]) =>
  events.filter((e) => !["status", "complete", "closing"].includes(e.event));

describe("follow streams: headers at once, keep-alives, resumable cursors", () => {
  let t: TestApp;
  let http: Server;
  let url: string;
  let agent: GpuAgent;
  const jobUrl = (id: string, rest: string) => `${url}/api/v1/jobs/${id}/${rest}`;
  const sendOutput = async (id: string, chunks: { stream: string; seq: number; data: string }[]) => {
    const res = await t.call("POST", `/api/v1/agent/reservations/${id}/output`, {
      token: agent.session,
      body: { chunks },
    });
    expect(res.status).toBe(200);
  };

  beforeAll(async () => {
    // A keep-alive every 20 ms instead of 15 s: the test waits for comments, not for time.
    t = await testApp({ config: { followKeepAliveMs: 20 } });
    http = await new Promise((resolve) => {
      const s = serve({ fetch: t.app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s as Server));
    });
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    agent = await gpuAgent(t, 2);
  });
  afterAll(() => {
    http?.closeAllConnections();
    http?.close();
  });

  it("answers a follow of a job that cannot be placed at once, says why it waits, and sends keep-alive comments", async () => {
    const { body } = await submit(t, { gpus: { count: 64 } });
    expect(body).toMatchObject({ status: "Pending", statusCode: "NeverFits" });
    for (const rest of ["output?follow=true", "events?follow=true"]) {
      const s = await openStream(jobUrl(body.id, rest), t.admin);
      expect(s.res.status).toBe(200);
      expect(s.res.headers.get("content-type")).toContain("text/event-stream");
      await until(() => s.comments() >= 3);
      expect(s.events().filter((e) => e.event === "status")).toHaveLength(1);
      const status = s.events().find((e) => e.event === "status")!;
      expect(JSON.parse(status.data)).toMatchObject({ status: "Pending", statusCode: "NeverFits" });
      // The cursor where it stands: no output yet; the events: after `accepted`.
      const accepted = s.events().find((e) => e.event === "accepted");
      expect(status.id).toBe(rest.startsWith("output") ? "0" : accepted!.id);
      await s.close();
    }
    expect(
      (
        await t.call("POST", `/api/v1/jobs/${body.id}/control`, {
          token: t.admin,
          body: { operation: "cancel" },
        })
      ).status,
    ).toBe(200);
  });

  it("resumes output after Last-Event-ID (or after=) with nothing lost or repeated", async () => {
    const { body } = await submit(t, {});
    const r = await start(agent, body.id);
    await sendOutput(r.id, [
      { stream: "stdout", seq: 1, data: "a\n" },
      { stream: "stderr", seq: 2, data: "b\n" },
      { stream: "stdout", seq: 3, data: "c\n" },
    ]);
    const first = await openStream(jobUrl(body.id, "output?follow=true"), t.admin);
    await until(() => outputs(first.events()).length === 3);
    await first.close();
    expect(outputs(first.events()).map((e) => e.id)).toEqual(["1", "2", "3"]);
    // The follower printed up to b (id 2) when its connection broke; meanwhile the job went on.
    await sendOutput(r.id, [
      { stream: "stdout", seq: 4, data: "d\n" },
      { stream: "stdout", seq: 5, data: "e\n" },
    ]);
    expect((await agent.result(r, "ok", { exitCode: 0 })).status).toBe(200);

    const resumed = await openStream(jobUrl(body.id, "output?follow=true"), t.admin, {
      "last-event-id": "2",
    });
    await resumed.done;
    expect([...data(first.events()).slice(0, 2), ...data(resumed.events())]).toEqual([
      "a\n",
      "b\n",
      "c\n",
      "d\n",
      "e\n",
    ]);
    expect(outputs(resumed.events()).map((e) => e.id)).toEqual(["3", "4", "5"]);
    expect(resumed.events().at(-1)).toMatchObject({ event: "complete", id: "5" });

    const byQuery = await openStream(jobUrl(body.id, "output?follow=true&after=4"), t.admin);
    await byQuery.done;
    expect(data(byQuery.events())).toEqual(["e\n"]);
    // What an EventSource sends when it reconnects to the URL it started with: the header is newer.
    const both = await openStream(jobUrl(body.id, "output?follow=true&after=1"), t.admin, {
      "last-event-id": "3",
    });
    await both.done;
    expect(data(both.events())).toEqual(["d\n", "e\n"]);
    // One stream only: the cursor still counts the chunks of both.
    const stdout = await openStream(jobUrl(body.id, "output?follow=true&stream=stdout&after=1"), t.admin);
    await stdout.done;
    expect(outputs(stdout.events()).map((e) => e.id)).toEqual(["3", "4", "5"]);
    const done = await openStream(jobUrl(body.id, "output?follow=true&after=5"), t.admin);
    await done.done;
    expect(outputs(done.events())).toEqual([]);
    expect(done.events().at(-1)).toMatchObject({ event: "complete", id: "5" });
  });

  it("resumes events after Last-Event-ID (or after=) with nothing lost or repeated", async () => {
    const { body } = await submit(t, {});
    const first = await openStream(jobUrl(body.id, "events?follow=true"), t.admin);
    await until(() => first.events().some((e) => e.event === "placed"));
    await first.close();
    const seen = lifecycle(first.events());
    expect(seen.map((e) => e.event)).toEqual(["accepted", "placed"]);
    const r = await start(agent, body.id);
    expect((await agent.result(r, "ok", { exitCode: 0 })).status).toBe(200);

    const resumed = await openStream(jobUrl(body.id, "events?follow=true"), t.admin, {
      "last-event-id": seen.at(-1)!.id!,
    });
    await resumed.done;
    const all = (await (
      await t.call("GET", `/api/v1/jobs/${body.id}/events?follow=false`, { token: t.admin })
    ).json()) as { events: { id: string; type: string }[] };
    expect([...seen, ...lifecycle(resumed.events())].map((e) => [e.id, e.event])).toEqual(
      all.events.map((e) => [e.id, e.type]),
    );
    expect(all.events.map((e) => e.type)).toEqual(["accepted", "placed", "started", "exited"]);
    expect(resumed.events().at(-1)).toMatchObject({ event: "complete", id: all.events.at(-1)!.id });

    const byQuery = (await (
      await t.call("GET", `/api/v1/jobs/${body.id}/events?follow=false&after=${seen[0]!.id}`, {
        token: t.admin,
      })
    ).json()) as { events: { type: string }[] };
    expect(byQuery.events.map((e) => e.type)).toEqual(["placed", "started", "exited"]);
  });

  it("refuses a cursor it did not give out (400), before streaming", async () => {
    const { body } = await submit(t, {});
    for (const [rest, cursor] of [
      ["output?follow=true", "x1"],
      ["events?follow=true", "not-an-event"],
    ] as const) {
      const res = await fetch(jobUrl(body.id, rest), {
        headers: { authorization: `Bearer ${t.admin}`, "last-event-id": cursor },
      });
      expect(res.status).toBe(400);
      await res.body?.cancel();
    }
    expect(
      (
        await fetch(jobUrl(body.id, "output?follow=true&after=-1"), {
          headers: { authorization: `Bearer ${t.admin}` },
        })
      ).status,
    ).toBe(400);
  });
});

describe("reconnectDelay", () => {
  it("doubles from the first delay up to the cap, jitter taking at most half off", () => {
    const backoff = { firstMs: 250, capMs: 5000 };
    expect([0, 1, 2, 3, 4, 5, 50].map((n) => reconnectDelay(n, backoff, () => 1))).toEqual([
      250, 500, 1000, 2000, 4000, 5000, 5000,
    ]);
    expect([0, 5, 50].map((n) => reconnectDelay(n, backoff, () => 0))).toEqual([125, 2500, 2500]);
  });
});

/** A directory with an `nvidia-smi` that reports one A100, to put first on an agent's PATH. */
async function fakeA100(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "berth-fake-smi-"));
  const script = join(dir, "nvidia-smi");
  await writeFile(
    script,
    `#!/bin/sh
case "$1" in
  --query-gpu=*) echo "0, GPU-fake-a100, NVIDIA A100-SXM4-80GB, 81920, 550.54.15, 00000000:00:04.0" ;;
  -L) echo "GPU 0: NVIDIA A100-SXM4-80GB (UUID: GPU-fake-a100)" ;;
  *) echo "| NVIDIA-SMI 550.54.15   Driver Version: 550.54.15   CUDA Version: 12.4 |" ;;
esac
`,
  );
  await chmod(script, 0o755);
  return dir;
}

describe("berth run and berth jobs logs -f: waiting, restarts, Ctrl-C", () => {
  let server: ServerProcess;
  let port: string;
  let dataDir: string;
  let token: string;
  let admin: string;
  const agents: AgentProcess[] = [];
  const api = apiClient(
    () => server.url,
    () => admin,
  );
  const cli = (args: string[]) => spawnCli(["--endpoint", server.url, ...args], { BERTH_DATA_DIR: dataDir });
  const startAgent = async (extra: string[], env: Record<string, string> = {}) => {
    const agentDir = await mkdtemp(join(tmpdir(), "berth-agent-"));
    const agent = startAgentProcess(
      ["--endpoint", server.url, "--token", token, "--data-dir", agentDir, "--runtime", "process", ...extra],
      env,
    );
    agents.push(agent);
    return agent;
  };
  const devices = async () => (await api<{ items: unknown[] }>("GET", "/devices")).items.length;
  const jobOf = (id: string) => api<{ status: string; exitCode?: number }>("GET", `/jobs/${id}`);
  /** A file the job waits for (created with `touch`): the test, not the clock, says when it goes on. */
  const gate = async () => join(await mkdtemp(join(tmpdir(), "berth-gate-")), "go");
  const waitFor = (file: string) => `while [ ! -e ${file} ]; do sleep 0.1; done`;
  const touch = (file: string) => writeFile(file, "");
  const idOf = (stderr: string) => /job (\S+) /.exec(stderr)![1]!;

  beforeAll(async () => {
    dataDir = await tempDir("e2e-follow");
    port = String(await freePort());
    server = await startServerProcess(dataDir, { PORT: port, BERTH_POLL_WAIT_SECONDS: "5" });
    admin = await adminKeyOf(dataDir);
    token = (await api<{ token: string }>("POST", "/registration-tokens", { name: "follow" })).token;
    // A machine with two GPUs of no known product: it runs anything but an A100 job.
    await startAgent(["--gpu-count", "2"]);
    await until(async () => (await devices()) === 1, 60_000);
  }, 120_000);
  afterAll(async () => {
    for (const agent of agents) await agent.stop("SIGKILL");
    await server?.stop("SIGKILL");
  });

  it("berth run of a job no device can run yet says why, waits, and exits with its code once an A100 logs in", async () => {
    const run = cli([
      "run",
      "--gpus",
      "1",
      "--gpu-type",
      "A100",
      "--",
      "sh",
      "-c",
      "echo on the A100; exit 4",
    ]);
    await until(() => /pending \(NeverFits\): no device .* A100/.test(run.stderr()), 30_000);
    const id = idOf(run.stderr());
    expect((await jobOf(id)).status).toBe("Pending");
    expect(run.child.exitCode).toBeNull();

    await startAgent([], { PATH: `${await fakeA100()}:${process.env.PATH}` });
    expect(await run.exited).toBe(4);
    expect(run.stdout()).toBe("on the A100\n");
    // Said once, though the job waited through many stream reads (and keep-alives).
    expect(run.stderr().match(/pending \(NeverFits\)/g)).toHaveLength(1);
    expect(await jobOf(id)).toMatchObject({ status: "Finished", exitCode: 4 });
  }, 120_000);

  it("Ctrl-C once prints how to re-attach and keeps following; twice detaches (130), the job goes on", async () => {
    const [first, second] = [await gate(), await gate()];
    const run = cli([
      "run",
      "--",
      "sh",
      "-c",
      `echo a; ${waitFor(first)}; echo b; ${waitFor(second)}; echo c; exit 3`,
    ]);
    await until(() => run.stdout() === "a\n", 60_000);
    const id = idOf(run.stderr());

    run.child.kill("SIGINT");
    await until(() => run.stderr().includes(`Re-attach: berth jobs logs -f ${id}`));
    expect(run.stderr()).toContain(`berth jobs stop ${id}`);
    await touch(first);
    await until(() => run.stdout() === "a\nb\n", 60_000);
    expect(run.child.exitCode).toBeNull();
    expect((await jobOf(id)).status).toBe("Running");

    run.child.kill("SIGINT");
    expect(await run.exited).toBe(130);
    expect((await jobOf(id)).status).toBe("Running");

    const logs = cli(["jobs", "logs", "-f", id]);
    await until(() => logs.stdout() === "a\nb\n", 60_000);
    await touch(second);
    expect(await logs.exited).toBe(3);
    expect(logs.stdout()).toBe("a\nb\nc\n");
  }, 120_000);

  it("berth run and berth jobs logs -f survive a server restart: the whole output once, the job's exit code", async () => {
    const go = await gate();
    const run = cli(["run", "--", "sh", "-c", `echo one; ${waitFor(go)}; echo two; exit 5`]);
    await until(() => run.stdout() === "one\n", 60_000);
    const id = idOf(run.stderr());

    expect(await server.stop("SIGTERM")).toBe(0);
    await until(() => /connection lost/.test(run.stderr()), 30_000);
    // Started while the control plane is down: it waits for it, too.
    const logs = cli(["jobs", "logs", "-f", id]);
    await until(() => /connection lost/.test(logs.stderr()), 30_000);
    // The job goes on meanwhile: its output waits in the agent.
    await touch(go);

    server = await startServerProcess(dataDir, { PORT: port, BERTH_POLL_WAIT_SECONDS: "5" });
    expect(await run.exited).toBe(5);
    expect(await logs.exited).toBe(5);
    expect(run.stdout()).toBe("one\ntwo\n");
    expect(logs.stdout()).toBe("one\ntwo\n");
    expect(run.stderr()).toMatch(/reconnected/);
    expect(await jobOf(id)).toMatchObject({ status: "Finished", exitCode: 5 });
  }, 180_000);
});
