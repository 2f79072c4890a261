import { existsSync } from "node:fs";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AgentReservation } from "../../shared/contracts/reservations.ts";
import { newId } from "../../shared/domain/ids.ts";
import { type AgentProcess, startAgentProcess } from "../helpers/agent-process.ts";
import { type AgentProxy, agentProxy } from "../helpers/agent-proxy.ts";
import { registerAgent } from "../helpers/agents.ts";
import { type TestApp, testApp } from "../helpers/app.ts";
import { createToken } from "../helpers/fleet.ts";
import { job, submit } from "../helpers/jobs.ts";
import { until } from "../helpers/wait.ts";

/**
 * Signing v2 against a man in the middle: the real agent polls through a proxy that records what the
 * control plane sent and injects replays, copies and forgeries into later answers. Each attack of issue 11
 * (finding 2) is one test: the agent says it refused (a log line), and the workload shows it did.
 */
describe("signing v2: what a proxy between agent and control plane cannot do", () => {
  let t: TestApp;
  let http: Server;
  let proxy: AgentProxy;
  let agent: AgentProcess;
  let deviceId: string;
  let dir: string;
  /** Every entry the control plane sent the agent, as it was sent. */
  const seen: AgentReservation[] = [];
  /** Entries for the proxy to add to the next poll answer. */
  const inject: AgentReservation[] = [];
  let forceBootSync: ((body: Record<string, unknown>) => Record<string, unknown>) | undefined;

  const refusals = (msg: string) =>
    agent
      .stderr()
      .split("\n")
      .filter((l) => l.includes(`"msg":"${msg}`)).length;
  const marker = (name: string) => join(dir, name);
  const runs = async (name: string) =>
    existsSync(marker(name)) ? (await readFile(marker(name), "utf8")).trim().split("\n").length : 0;
  const reserve = async (data: unknown, duration = 600) => {
    const res = await t.call("POST", "/api/v1/reservations", {
      token: t.admin,
      body: { nodeId: deviceId, type: "process", data, duration },
    });
    expect(res.status).toBe(201);
    return (await res.json()) as { id: string };
  };
  const view = async (id: string) =>
    (await (await t.call("GET", `/api/v1/reservations/${id}`, { token: t.admin })).json()) as {
      state: string;
      result?: { state: string };
    };
  const sent = (id: string, pick: (r: AgentReservation) => boolean = () => true) =>
    until(() => seen.some((r) => r.id === id && pick(r)), 20_000).then(
      () => seen.find((r) => r.id === id && pick(r))!,
    );
  /** Injects entries, and waits until the agent logged `msg` once more per entry. */
  const injectAndWait = async (entries: AgentReservation[], msg: string) => {
    const before = refusals(msg);
    inject.push(...entries);
    await until(() => refusals(msg) >= before + entries.length, 30_000);
  };
  const pidOf = async (id: string) => {
    const file = join(dir, "agent", "workloads", id, "pid");
    const read = async () => (existsSync(file) ? Number(await readFile(file, "utf8")) : 0);
    await until(async () => (await read()) > 0, 20_000);
    return read();
  };
  const state = async (pid: number) =>
    (await readFile(`/proc/${pid}/stat`, "utf8")).split(") ")[1]!.split(" ")[0]!;

  beforeAll(async () => {
    t = await testApp({ config: { pollWaitCapSeconds: 2 } });
    http = await new Promise((resolve) => {
      const s = serve({ fetch: t.app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s as Server));
    });
    proxy = await agentProxy(`http://127.0.0.1:${(http.address() as AddressInfo).port}`);
    proxy.rewritePoll = (body) => {
      seen.push(...(body.reservations as AgentReservation[]));
      const out = forceBootSync ? forceBootSync(body) : body;
      if (inject.length)
        out.reservations = [...(out.reservations as AgentReservation[]), ...inject.splice(0)];
      return out;
    };
    dir = await mkdtemp(join(tmpdir(), "berth-sign-"));
    const { token } = await createToken(t);
    agent = startAgentProcess([
      "--endpoint",
      proxy.url,
      "--token",
      token,
      "--data-dir",
      join(dir, "agent"),
      "--runtime",
      "process",
    ]);
    await until(async () => {
      const list = (await (await t.call("GET", "/api/v1/devices", { token: t.admin })).json()) as {
        items: { id: string; protocol: number }[];
      };
      deviceId = list.items[0]?.id ?? "";
      return list.items[0]?.protocol === 2;
    }, 30_000);
  }, 60_000);
  afterAll(async () => {
    await agent?.stop("SIGKILL");
    await proxy?.close();
    http?.closeAllConnections();
    http?.close();
  });

  it("runs a reservation delivered under other ids only once: the id is signed", async () => {
    const { id } = await reserve({ argv: ["/bin/sh", "-c", `echo run >> ${marker("copies")}`], env: {} });
    const original = await sent(id);
    await until(async () => (await view(id)).result !== undefined, 20_000);
    await injectAndWait(
      [
        { ...original, id: newId() },
        { ...original, id: newId() },
      ],
      "refusing a reservation whose signature does not verify",
    );
    expect(await runs("copies")).toBe(1);
  });

  it("never runs a captured reservation again after it ran and was deleted", async () => {
    const { id } = await reserve({ argv: ["/bin/sh", "-c", `echo run >> ${marker("replay")}`], env: {} });
    const original = await sent(id);
    await until(async () => (await view(id)).result !== undefined, 20_000);
    expect((await t.call("DELETE", `/api/v1/reservations/${id}`, { token: t.admin })).status).toBe(200);
    await until(async () => (await view(id)).state === "deleted", 20_000);
    await injectAndWait([original], "not applying a reservation again");
    expect(await runs("replay")).toBe(1);
  });

  it("refuses a reservation signed for another device", async () => {
    const other = await registerAgent(t);
    const res = await t.call("POST", "/api/v1/reservations", {
      token: t.admin,
      body: {
        nodeId: other.deviceId,
        type: "process",
        data: { argv: ["/bin/sh", "-c", `echo run >> ${marker("elsewhere")}`], env: {} },
        duration: 600,
      },
    });
    const { id } = (await res.json()) as { id: string };
    // Exactly what device 2 would be sent (its v2 signature), handed to device 1.
    const stored = (await t.deps.repos.reservations.get(other.deviceId, id))!;
    const forDevice2: AgentReservation = {
      id,
      nodeId: stored.nodeId,
      workspaceId: stored.workspaceId,
      user: stored.user,
      type: stored.type,
      data: stored.data,
      created: stored.created,
      duration: stored.duration,
      signature: stored.signatureV2!,
      toDelete: false,
    };
    await injectAndWait([forDevice2], "refusing an entry addressed to another device");
    expect(await runs("elsewhere")).toBe(0);
    // Jobs below must land on the real agent.
    await t.call("DELETE", `/api/v1/devices/${other.deviceId}`, { token: t.admin });
  });

  it("ignores a removal it cannot verify: the workload keeps running, the server's view stays true", async () => {
    const { id } = await reserve({ argv: ["/bin/sh", "-c", "sleep 600"], env: {} });
    const original = await sent(id);
    await until(async () => (await view(id)).state === "delivered", 20_000);
    const pid = await pidOf(id);
    // A removal made up from the apply (v1 sent no removal signature), and one with another's signature.
    const another = await reserve({ argv: ["true"], env: {} });
    await t.call("DELETE", `/api/v1/reservations/${another.id}`, { token: t.admin });
    const realRemoval = await sent(another.id, (r) => r.toDelete);
    await injectAndWait(
      [
        { ...original, toDelete: true },
        { ...original, toDelete: true, removal: realRemoval.removal },
      ],
      "refusing a removal whose signature does not verify",
    );
    expect(["S", "R"]).toContain(await state(pid));
    expect((await view(id)).state).toBe("delivered");
    await t.call("DELETE", `/api/v1/reservations/${id}`, { token: t.admin });
  });

  it("ignores a captured suspend re-sent after a resume", async () => {
    const { body } = await submit(t, { exe: undefined, args: [], command: "sleep 600" });
    await until(async () => (await job(t, body.id)).status === "Running", 30_000);
    const pid = (await job(t, body.id)).pid as number;
    const control = async (operation: string) =>
      expect(
        (await t.call("POST", `/api/v1/jobs/${body.id}/control`, { token: t.admin, body: { operation } }))
          .status,
      ).toBe(200);
    const reservationId = (await t.deps.repos.jobs.get(body.id))!.reservationId!;
    await control("suspend");
    const suspend = await sent(reservationId, (r) => r.control?.action === "suspend");
    await until(async () => (await state(pid)) === "T", 20_000);
    await control("resume");
    await until(async () => (await state(pid)) !== "T", 20_000);
    await injectAndWait([suspend], "ignoring a control older than the last one applied");
    expect(await state(pid)).not.toBe("T");
    expect((await job(t, body.id)).status).toBe("Running");
    await control("kill");
  }, 90_000);

  it("does not drop what it runs on a boot sync whose list is forged", async () => {
    const { id } = await reserve({ argv: ["/bin/sh", "-c", "sleep 600"], env: {} });
    const pid = await pidOf(id);
    // The next answer sends the agent back to a boot sync; that one lists nothing, without a signed list.
    let step = 0;
    const before = refusals("not reconciling with a boot sync");
    forceBootSync = (body) => {
      if (step === 0) {
        step = 1;
        return { ...body, reservations: [], next: 0 };
      }
      if (step === 1 && body.sync) {
        step = 2;
        const { sync: _, ...rest } = body;
        return { ...rest, reservations: [] };
      }
      return body;
    };
    try {
      await until(() => refusals("not reconciling with a boot sync") > before, 30_000);
    } finally {
      forceBootSync = undefined;
    }
    expect(["S", "R"]).toContain(await state(pid));
    expect((await view(id)).state).toBe("delivered");
    await t.call("DELETE", `/api/v1/reservations/${id}`, { token: t.admin });
  });

  it("upgrades an agent from before protocol negotiation: it logs in again once, with its key, and agrees on v2", async () => {
    await agent.stop("SIGTERM");
    const identityFile = join(dir, "agent", "identity.json");
    const { protocol: _, ...old } = JSON.parse(await readFile(identityFile, "utf8")) as Record<
      string,
      unknown
    >;
    await writeFile(identityFile, JSON.stringify(old));
    await t.deps.repos.devices.refresh(deviceId, { protocol: 1 }, new Date().toISOString());
    t.deps.deviceAuth.entries.clear();
    agent = startAgentProcess(["--data-dir", join(dir, "agent"), "--runtime", "process"]);
    const protocol = async () =>
      (
        (await (await t.call("GET", `/api/v1/devices/${deviceId}`, { token: t.admin })).json()) as {
          protocol: number;
        }
      ).protocol;
    await until(async () => (await protocol()) === 2, 30_000);
    await until(async () => JSON.parse(await readFile(identityFile, "utf8")).protocol === 2, 10_000);
    expect(JSON.parse(await readFile(identityFile, "utf8"))).toMatchObject({ machineId: deviceId });
    expect(agent.stderr()).toContain('"msg":"logged in again"');
    const { id } = await reserve({ argv: ["/bin/sh", "-c", `echo run >> ${marker("upgraded")}`], env: {} });
    await until(async () => (await view(id)).result !== undefined, 20_000);
    expect(await runs("upgraded")).toBe(1);
  }, 60_000);
});
