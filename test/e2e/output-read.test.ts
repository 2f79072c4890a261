import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type TestApp, testApp } from "../helpers/app.ts";
import { type GpuAgent, gpuAgent, start, submit } from "../helpers/jobs.ts";
import { runCli } from "../helpers/processes.ts";

const MiB = 1024 * 1024;
const CHUNK = 64 * 1024;
const TOTAL = 30 * MiB;

/**
 * 30 MB of output (480 chunks of 64 KiB, far past any storage page) read back whole through every way a
 * person reads it: the job's output as JSON and as a follow stream, `berth jobs logs` with and without -f,
 * and the reservation's output pages.
 */
describe("30 MB of output read back", () => {
  let t: TestApp;
  let http: Server;
  let url: string;
  let jobId: string;
  let reservationId: string;
  const expected = Array.from({ length: TOTAL / CHUNK }, (_, i) =>
    String.fromCharCode(97 + (i % 26)).repeat(CHUNK),
  ).join("");

  beforeAll(async () => {
    t = await testApp();
    http = await new Promise((resolve) => {
      const s = serve({ fetch: t.app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s as Server));
    });
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    const agent: GpuAgent = await gpuAgent(t, 0);
    const { body } = await submit(t, {});
    jobId = body.id;
    const r = await start(agent, jobId);
    reservationId = r.id;
    for (let seq = 1; seq <= TOTAL / CHUNK; seq += 10) {
      const chunks = Array.from({ length: Math.min(10, TOTAL / CHUNK - seq + 1) }, (_, i) => ({
        stream: "stdout",
        seq: seq + i,
        data: expected.slice((seq + i - 1) * CHUNK, (seq + i) * CHUNK),
      }));
      const res = await t.call("POST", `/api/v1/agent/reservations/${r.id}/output`, {
        token: agent.session,
        body: { chunks },
      });
      expect(res.status).toBe(200);
    }
    expect((await agent.result(r, "ok", { exitCode: 0 })).status).toBe(200);
  }, 120_000);
  afterAll(() => {
    http?.closeAllConnections();
    http?.close();
  });

  it("GET /jobs/{id}/output: all of it, complete", async () => {
    const res = await t.call("GET", `/api/v1/jobs/${jobId}/output`, { token: t.admin });
    const body = (await res.json()) as { output: { data: string }[]; complete: boolean };
    expect(body.complete).toBe(true);
    expect(body.output.map((l) => l.data).join("") === expected).toBe(true);
  });

  it("GET /jobs/{id}/output?follow=true: all of it, then complete", async () => {
    const res = await t.call("GET", `/api/v1/jobs/${jobId}/output?follow=true`, { token: t.admin });
    const text = await res.text();
    const data = [...text.matchAll(/^event: output\ndata: (.*)$/gm)]
      .map((m) => (JSON.parse(m[1]!) as { data: string }).data)
      .join("");
    expect(data.length).toBe(TOTAL);
    expect(data === expected).toBe(true);
    expect(text).toMatch(/event: complete/);
  });

  it("GET /reservations/{id}/output, page after page: all of it", async () => {
    let data = "";
    let cursor: string | undefined;
    do {
      const res = await t.call(
        "GET",
        `/api/v1/reservations/${reservationId}/output?pageSize=500${cursor ? `&pageToken=${cursor}` : ""}`,
        { token: t.admin },
      );
      const page = (await res.json()) as { items: { data: string }[]; nextPageToken?: string };
      data += page.items.map((c) => c.data).join("");
      cursor = page.nextPageToken;
    } while (cursor);
    expect(data === expected).toBe(true);
  });

  it("berth jobs logs, and berth jobs logs -f: all of it", async () => {
    const env = { BERTH_ENDPOINT: url, BERTH_API_KEY: t.admin };
    for (const args of [
      ["jobs", "logs", jobId],
      ["jobs", "logs", "-f", jobId],
    ]) {
      const out = await runCli(args, env);
      expect(out.code).toBe(0);
      expect(out.stdout.length).toBe(TOTAL);
      expect(out.stdout === expected).toBe(true);
    }
  }, 120_000);
});
