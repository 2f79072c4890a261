import { existsSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newId } from "../../shared/domain/ids.ts";
import { expiresAt, type Reservation } from "../../shared/domain/reservation.ts";
import { signReservation } from "../../shared/domain/signing.ts";
import { agentReservation } from "../../shared/usecases/feed/reservations.ts";
import { type AgentProcess, startAgentProcess } from "../helpers/agent-process.ts";
import { firstDevice } from "../helpers/agents.ts";
import { type TestApp, testApp } from "../helpers/app.ts";
import { createToken } from "../helpers/fleet.ts";
import { until } from "../helpers/wait.ts";

/**
 * The real agent process against the app served in this process, so that the test can also write to
 * storage directly: that is the only way to put a reservation with a bad signature in front of an agent.
 */
describe("the agent's engine", () => {
  let t: TestApp;
  let http: Server;
  let agent: AgentProcess;
  let agentDir: string;
  let deviceId: string;

  const reserve = async (type: string, data: unknown, duration = 600) => {
    const res = await t.call("POST", "/api/v1/reservations", {
      token: t.admin,
      body: { nodeId: deviceId, type, data, duration },
    });
    return (await res.json()) as { id: string };
  };
  const view = async (id: string) =>
    (await (await t.call("GET", `/api/v1/reservations/${id}`, { token: t.admin })).json()) as {
      state: string;
      result?: { state: string; error: string; data: string };
    };
  const resultOf = async (id: string) => {
    await until(async () => (await view(id)).result !== undefined, 20_000);
    return (await view(id)).result!;
  };

  beforeAll(async () => {
    t = await testApp({ config: { pollWaitCapSeconds: 5 } });
    http = await new Promise((resolve) => {
      const s = serve({ fetch: t.app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s as Server));
    });
    const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    agentDir = await mkdtemp(join(tmpdir(), "berth-agent-"));
    const { token } = await createToken(t);
    // No Docker for this agent, even where the machine's default socket answers (the "not usable" tests).
    agent = startAgentProcess(
      ["--endpoint", url, "--token", token, "--data-dir", agentDir, "--runtime", "auto"],
      { DOCKER_HOST: "unix:///nonexistent/docker.sock" },
    );
    deviceId = await firstDevice(t, 30_000);
  }, 60_000);
  afterAll(async () => {
    await agent?.stop("SIGKILL");
    http?.closeAllConnections();
    http?.close();
  });

  it("refuses a reservation whose signature does not verify: an error result, nothing spawned", async () => {
    const marker = join(await mkdtemp(join(tmpdir(), "berth-tamper-")), "ran");
    const now = new Date().toISOString();
    const signed = {
      nodeId: deviceId,
      workspaceId: "default",
      type: "process" as const,
      data: JSON.stringify({ argv: ["true"] }),
      created: now,
      duration: 600,
    };
    const head = await t.deps.repos.feed.head(deviceId);
    const seq = head.seq + 1;
    // Signed for `true`, delivered as something else: what a tampered store or a forger would send.
    const r: Reservation = {
      ...signed,
      id: newId(),
      user: "mallory",
      data: JSON.stringify({ argv: ["sh", "-c", `touch ${marker}`] }),
      signature: signReservation(signed, t.deps.keys.signing.privateKey),
      state: "pending",
      version: 1,
      seq,
      expiresAt: expiresAt(now, 600),
      updatedAt: now,
    };
    const entry = {
      deviceId,
      seq,
      kind: "apply" as const,
      reservation: agentReservation(r, seq),
      createdAt: now,
      expiresAt: r.expiresAt,
    };
    await t.deps.repos.commit([t.deps.repos.reservations.create(r), t.deps.repos.feed.append(head, entry)]);
    t.deps.feedWatcher.notify(deviceId, seq, entry);
    expect(await resultOf(r.id)).toMatchObject({ state: "error", error: "signature verification failed" });
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(join(agentDir, "workloads", r.id))).toBe(false);
  });

  it("echoes a debug reservation's data back", async () => {
    const r = await reserve("debug", { ping: [1, 2] });
    expect(await resultOf(r.id)).toMatchObject({ state: "ok", data: '{"ping":[1,2]}' });
  });

  it("creates a volume's directory, and removes it when the volume is deleted", async () => {
    const r = await reserve("volume", { name: "scratch" });
    const result = await resultOf(r.id);
    const path = (JSON.parse(result.data) as { path: string }).path;
    expect(path).toBe(join(agentDir, "volumes", "scratch"));
    expect(existsSync(path)).toBe(true);
    await t.call("DELETE", `/api/v1/reservations/${r.id}`, { token: t.admin });
    await until(async () => (await view(r.id)).state === "deleted", 15_000);
    expect(existsSync(path)).toBe(false);
  });

  it("answers a container when Docker is not usable with an error saying so", async () => {
    const r = await reserve("container", { image: "ubuntu:24.04" });
    const result = await resultOf(r.id);
    expect(result.state).toBe("error");
    expect(result.error).toMatch(/^docker is not available: /);
  });

  it("answers an image pre-pull when Docker is not usable with an error saying so", async () => {
    const r = await reserve("prepull", { image: "ubuntu:24.04" });
    expect((await resultOf(r.id)).error).toMatch(/^docker is not available: /);
  });

  it("gives the process the GPUs it was assigned, its environment and its working directory", async () => {
    const dir = await mkdtemp(join(tmpdir(), "berth-cwd-"));
    const r = await reserve("process", {
      argv: ["sh", "-c", 'echo "$CUDA_VISIBLE_DEVICES|$GREETING|$(pwd)"'],
      env: { GREETING: "hi" },
      gpus: [2, 5],
      workingDirectory: dir,
    });
    expect(await resultOf(r.id)).toMatchObject({ state: "ok" });
    await until(async () => {
      const out = (await (
        await t.call("GET", `/api/v1/reservations/${r.id}/output`, { token: t.admin })
      ).json()) as {
        items: { data: string }[];
      };
      return out.items.map((c) => c.data).join("") === `2,5|hi|${dir}\n`;
    });
  });

  it("refuses a working directory that does not exist, without running anything", async () => {
    const r = await reserve("process", { argv: ["true"], workingDirectory: "/no/such/dir" });
    expect(await resultOf(r.id)).toMatchObject({
      state: "error",
      error: "working directory does not exist: /no/such/dir",
    });
  });
});
