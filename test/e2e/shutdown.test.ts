import { describe, expect, it } from "vitest";
import { HttpAgent } from "../helpers/http-agent.ts";
import { adminKeyOf, apiClient, startServerProcess, tempDir } from "../helpers/processes.ts";
import { until } from "../helpers/wait.ts";

describe("berth server stopping with polls and followers attached", () => {
  it("answers the waiting poll, ends the follow stream with a closing event, and exits promptly", async () => {
    const dataDir = await tempDir("e2e-shutdown");
    const server = await startServerProcess(dataDir);
    const admin = await adminKeyOf(dataDir);
    const api = apiClient(
      () => server.url,
      () => admin,
    );
    const { token } = await api<{ token: string }>("POST", "/registration-tokens", { name: "s" });
    const agent = await HttpAgent.register(server.url, token);
    await agent.pollOnce(0);
    const poll = fetch(`${server.url}/api/v1/agent/reservations?from=${agent.cursor}&wait=25`, {
      headers: { authorization: `Bearer ${agent.session}` },
    });
    // A job that cannot run anywhere (no device has 64 GPUs): its events stream stays open.
    const job = await api<{ id: string }>("POST", "/jobs", { exe: "true", gpus: { count: 64 } });
    const follow = await fetch(`${server.url}/api/v1/jobs/${job.id}/events?follow=true`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    const body = follow.text();
    await until(
      async () => (await api<{ polls: { waiting: number } }>("GET", "/metrics")).polls.waiting >= 1,
    );

    const started = performance.now();
    expect(await server.stop("SIGTERM")).toBe(0);
    const took = performance.now() - started;
    const answered = await poll;
    expect(answered.status).toBe(200);
    expect(((await answered.json()) as { reservations: unknown[] }).reservations).toEqual([]);
    expect(await body).toContain("event: closing");
    // Before: 21-60 s with a poll or a follower attached. A generous bound that a busy machine still meets.
    expect(took).toBeLessThan(10_000);
  }, 60_000);
});
