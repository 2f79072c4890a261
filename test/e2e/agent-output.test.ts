import { mkdtemp } from "node:fs/promises";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAgentProcess } from "../helpers/agent-process.ts";
import { type AgentProxy, agentProxy } from "../helpers/agent-proxy.ts";
import { type TestApp, testApp } from "../helpers/app.ts";
import { createToken } from "../helpers/fleet.ts";
import { job, submit } from "../helpers/jobs.ts";
import { until } from "../helpers/wait.ts";

const LIMIT = 256 * 1024;
const MiB = 1024 * 1024;

interface Output {
  output: { stream: string; data: string }[];
  complete: boolean;
}

/**
 * The real agent against the app in this process, through a proxy that logs (and may fail or rewrite)
 * every request, with a body limit of 256 KiB: jobs that print megabytes must neither wedge nor lose any.
 */
async function fleet(opts: { advertiseLimit: boolean }) {
  const t = await testApp({ config: { bodyLimitBytes: LIMIT, pollWaitCapSeconds: 5 } });
  const http: Server = await new Promise((resolve) => {
    const s = serve({ fetch: t.app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s as Server));
  });
  const proxy = await agentProxy(`http://127.0.0.1:${(http.address() as AddressInfo).port}`);
  if (!opts.advertiseLimit) {
    // An agent that was never told: it assumes the usual 1 MiB and meets 413s.
    proxy.rewritePoll = ({ limits: _, ...rest }) => rest;
  }
  const { token } = await createToken(t);
  const agentDir = await mkdtemp(join(tmpdir(), "berth-agent-out-"));
  const agent = startAgentProcess(
    ["--endpoint", proxy.url, "--token", token, "--data-dir", agentDir, "--runtime", "process"],
    {},
  );
  await until(async () => {
    const list = (await (await t.call("GET", "/api/v1/devices", { token: t.admin })).json()) as {
      items: unknown[];
    };
    return list.items.length === 1;
  }, 30_000);
  return { t, http, proxy, agent };
}

async function runJob(t: TestApp, command: string) {
  const { status, body } = await submit(t, { exe: undefined, args: [], command });
  expect(status).toBe(201);
  await until(async () => (await job(t, body.id)).status === "Finished", 120_000);
  return body.id;
}

const outputOf = async (t: TestApp, id: string) => {
  const res = await t.call("GET", `/api/v1/jobs/${id}/output`, { token: t.admin });
  return { status: res.status, body: (await res.json()) as Output };
};
const text = (o: Output, stream = "stdout") =>
  o.output
    .filter((l) => l.stream === stream)
    .map((l) => l.data)
    .join("");

/** A fleet for one describe block (built before its tests, stopped after); `f.current` inside tests. */
function fleetFor(o: { advertiseLimit: boolean }) {
  const holder = {} as { current: Awaited<ReturnType<typeof fleet>> };
  beforeAll(async () => {
    holder.current = await fleet(o);
  }, 60_000);
  afterAll(async () => {
    const f = holder.current;
    await f?.agent.stop("SIGKILL");
    await f?.proxy.close();
    f?.http.closeAllConnections();
    f?.http.close();
  });
  return holder;
}

const AT_ONCE = `head -c ${4 * MiB} /dev/zero | tr '\\0' x`;

describe("an agent told the control plane's body limit", () => {
  const f = fleetFor({ advertiseLimit: true });
  const outputRequests = (p: AgentProxy) => p.requests.filter((r) => r.path.endsWith("/output"));

  it("ships 4 MiB printed at once whole, in batches under the limit, and the job finishes", async () => {
    const id = await runJob(f.current.t, AT_ONCE);
    await until(async () => (await outputOf(f.current.t, id)).body.complete === true, 60_000);
    const out = (await outputOf(f.current.t, id)).body;
    expect(text(out)).toBe("x".repeat(4 * MiB));
    const sent = outputRequests(f.current.proxy);
    expect(sent.length).toBeGreaterThanOrEqual(16);
    expect(sent.filter((r) => r.status !== 200)).toEqual([]);
    expect(Math.max(...sent.map((r) => r.bodyBytes))).toBeLessThanOrEqual(LIMIT);
  });

  it("ships 4 MiB printed slowly whole", async () => {
    const id = await runJob(
      f.current.t,
      `for i in $(seq 40); do head -c ${100 * 1024} /dev/zero | tr '\\0' y; sleep 0.05; done; echo done >&2`,
    );
    await until(async () => (await outputOf(f.current.t, id)).body.complete === true, 60_000);
    const out = (await outputOf(f.current.t, id)).body;
    expect(text(out)).toBe("y".repeat(40 * 100 * 1024));
    expect(text(out, "stderr")).toBe("done\n");
  });

  it("sends the result while output cannot go, marked pending: the output is complete only once all of it is there", async () => {
    let failing = true;
    f.current.proxy.intercept = (r) =>
      failing && r.method === "POST" && r.path.endsWith("/output")
        ? { status: 503, body: { error: { code: "Unavailable", message: "try later" } } }
        : undefined;
    try {
      const id = await runJob(f.current.t, `head -c ${600 * 1024} /dev/zero | tr '\\0' z; exit 3`);
      expect(await job(f.current.t, id)).toMatchObject({ status: "Finished", exitCode: 3 });
      const early = await outputOf(f.current.t, id);
      // Nothing arrived yet (404), or some did: either way not complete.
      if (early.status === 200) expect(early.body.complete).toBe(false);
      else expect(early.status).toBe(404);
      failing = false;
      await until(async () => (await outputOf(f.current.t, id)).body.complete === true, 60_000);
      expect(text((await outputOf(f.current.t, id)).body)).toBe("z".repeat(600 * 1024));
    } finally {
      f.current.proxy.intercept = undefined;
    }
  });
});

describe("an agent that was not told the limit", () => {
  const f = fleetFor({ advertiseLimit: false });

  it("cuts smaller batches after a 413, never sends a refused request again, and ships everything", async () => {
    const id = await runJob(f.current.t, AT_ONCE);
    await until(async () => (await outputOf(f.current.t, id)).body.complete === true, 60_000);
    expect(text((await outputOf(f.current.t, id)).body)).toBe("x".repeat(4 * MiB));
    const sent = f.current.proxy.requests.filter((r) => r.path.endsWith("/output"));
    const refused = sent.filter((r) => r.status === 413);
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) {
      const again = sent.slice(sent.indexOf(r) + 1).filter((x) => x.bodyHash === r.bodyHash);
      expect(again).toEqual([]);
    }
  });
});
