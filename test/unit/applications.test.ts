import { beforeAll, describe, expect, it } from "vitest";
import type { AgentReservation } from "../../shared/contracts/reservations.ts";
import type { ApplicationData } from "../../shared/domain/reservation-data.ts";
import {
  FULL_PASS_MS,
  reconcileAll,
  reconcileApplication,
  sweepApplications,
} from "../../shared/usecases/applications/reconcile.ts";
import { registerAgent, type SimAgent } from "../helpers/agents.ts";
import { errorOf, type TestApp, testApp } from "../helpers/app.ts";
import { manualClock } from "../helpers/clock.ts";
import { snapshot } from "../helpers/db.ts";

const APPS = "/api/v1/namespaces/default/applications";

type App = {
  id: string;
  version: number;
  status: string;
  deploymentStatus: { total: number; available: number; pending: number };
};
type Dep = { deviceId: string; state: string; version: number; reservationId: string; containers: unknown[] };

/** Applications on simulated agents (specs/applications.md §2-§6): the control plane's side. */
describe("applications", () => {
  let t: TestApp;
  let a100: SimAgent;
  let h100: SimAgent;
  const cursors = new Map<SimAgent, number>();
  const call = (method: string, path: string, body?: unknown, token = t.admin) =>
    t.call(method, path, { token, body });
  const json = async <T>(res: Promise<Response>) => (await (await res).json()) as T;
  /** What a device's feed handed over since the last look: applies and removals. */
  const feed = async (agent: SimAgent) => {
    const res = await agent.poll(cursors.get(agent) ?? 0);
    cursors.set(agent, res.next);
    return res.reservations;
  };
  const applies = (rs: AgentReservation[]) =>
    rs.filter((r) => !r.toDelete && !r.control && r.type === "application");
  const removals = (rs: AgentReservation[]) => rs.filter((r) => r.toDelete);
  const dataOf = (r: AgentReservation) => JSON.parse(r.data) as ApplicationData;
  const deployments = async (name: string) =>
    (await json<{ items: Dep[] }>(call("GET", `${APPS}/${name}/deployments`))).items;
  const app = (name: string, extra: Record<string, unknown> = {}) => ({
    name,
    type: "process",
    scheduling: { type: "Conditional", selectors: { gpu: "a100" } },
    spec: { containers: [{ name: "server", command: "exec sleep 1000" }] },
    ...extra,
  });

  beforeAll(async () => {
    t = await testApp();
    a100 = await registerAgent(t, { login: { nodeLabels: { gpu: "a100" } } });
    h100 = await registerAgent(t, { login: { nodeLabels: { gpu: "h100" } } });
    for (const agent of [a100, h100]) await feed(agent);
  });

  it("lands on exactly the devices its selectors match, as a signed application reservation", async () => {
    const res = await call("POST", APPS, app("web"));
    expect(res.status).toBe(201);
    const created = (await res.json()) as App;
    expect(created).toMatchObject({
      version: 1,
      status: "active",
      deploymentStatus: { total: 1, available: 0, pending: 1 },
    });
    const [r] = applies(await feed(a100));
    expect(applies(await feed(h100))).toEqual([]);
    expect(dataOf(r!)).toMatchObject({
      application: { id: created.id, namespace: "default", name: "web", version: 1, configVersion: 1 },
      kind: "process",
      containers: [
        {
          name: "server",
          argv: ["/bin/sh", "-c", "exec sleep 1000", "sh"],
          restartPolicy: { name: "always" },
        },
      ],
    });
    expect(await deployments("web")).toEqual([
      expect.objectContaining({
        deviceId: a100.deviceId,
        state: "pending",
        version: 1,
        reservationId: r!.id,
      }),
    ]);
    // The device says its program runs: the deployment is running and available.
    const status = await call(
      "POST",
      `/api/v1/agent/reservations/${r!.id}/status`,
      { state: "running", pid: 7, containers: [{ name: "server", state: "running", restartCount: 0 }] },
      a100.session,
    );
    expect(status.status).toBe(200);
    expect((await json<App>(call("GET", `${APPS}/web`))).deploymentStatus).toMatchObject({
      total: 1,
      available: 1,
    });
    // Another reconcile pass changes nothing.
    await reconcileAll(t.deps);
    expect(applies(await feed(a100))).toEqual([]);
  });

  it("moves with the labels: a device that stops matching loses it, one that starts matching gets it", async () => {
    await call("PATCH", `/api/v1/devices/${h100.deviceId}`, { labels: { gpu: "a100" } });
    await call("PATCH", `/api/v1/devices/${a100.deviceId}`, { labels: { gpu: "h100" } });
    const [gained] = applies(await feed(h100));
    expect(dataOf(gained!).application.name).toBe("web");
    const lost = removals(await feed(a100));
    expect(lost).toHaveLength(1);
    expect((await deployments("web")).map((d) => [d.deviceId, d.state]).sort()).toEqual(
      [
        [a100.deviceId, "deleting"],
        [h100.deviceId, "pending"],
      ].sort(),
    );
    // Once the old device says it removed it, its deployment is gone.
    expect((await a100.deleted(lost[0]!.id)).status).toBe(200);
    expect((await deployments("web")).map((d) => d.deviceId)).toEqual([h100.deviceId]);
    // Back as they were, for what follows.
    await call("PATCH", `/api/v1/devices/${h100.deviceId}`, { labels: { gpu: "h100" } });
    await call("PATCH", `/api/v1/devices/${a100.deviceId}`, { labels: { gpu: "a100" } });
    for (const r of removals(await feed(h100))) await h100.deleted(r.id);
    await feed(a100);
  });

  it("a cordoned device gets no new application (what it runs stays); uncordoned, it gets it", async () => {
    expect((await call("POST", `/api/v1/devices/${h100.deviceId}/cordon`)).status).toBe(200);
    const res = await call("POST", APPS, app("daemon", { scheduling: { type: "AllDevices" } }));
    expect(res.status).toBe(201);
    expect(applies(await feed(h100))).toEqual([]);
    expect((await deployments("daemon")).map((d) => d.deviceId)).toEqual([a100.deviceId]);
    await reconcileAll(t.deps);
    expect(applies(await feed(h100))).toEqual([]);
    expect((await call("POST", `/api/v1/devices/${h100.deviceId}/uncordon`)).status).toBe(200);
    await t.deps.background.drain();
    expect(applies(await feed(h100)).map((r) => dataOf(r).application.name)).toEqual(["daemon"]);
    // Cordoned again, it keeps it.
    await call("POST", `/api/v1/devices/${h100.deviceId}/cordon`);
    await reconcileAll(t.deps);
    expect(removals(await feed(h100))).toEqual([]);
    await call("POST", `/api/v1/devices/${h100.deviceId}/uncordon`);
    expect((await call("DELETE", `${APPS}/daemon`)).status).toBe(202);
    for (const agent of [a100, h100])
      for (const r of removals(await feed(agent))) expect((await agent.deleted(r.id)).status).toBe(200);
    expect((await call("GET", `${APPS}/daemon`)).status).toBe(404);
  });

  it("rolls out one device at a time under maxUnavailable 1: a device coming up at the new version moves it on", async () => {
    const res = await call(
      "POST",
      APPS,
      app("rolling", { scheduling: { type: "AllDevices" }, rollout: { maxUnavailable: 1 } }),
    );
    expect(res.status).toBe(201);
    const up = async (agent: SimAgent, r: AgentReservation) =>
      call(
        "POST",
        `/api/v1/agent/reservations/${r.id}/status`,
        { state: "running", containers: [{ name: "server", state: "running", restartCount: 0 }] },
        agent.session,
      );
    for (const agent of [a100, h100]) for (const r of applies(await feed(agent))) await up(agent, r);
    await call("PATCH", `${APPS}/rolling`, {
      spec: { containers: [{ name: "server", command: "exec sleep 2000" }] },
    });
    const first = [...applies(await feed(a100)), ...applies(await feed(h100))];
    expect(first).toHaveLength(1);
    const [r] = first;
    const agent = r!.nodeId === a100.deviceId ? a100 : h100;
    const other = agent === a100 ? h100 : a100;
    // Nothing more until the first is up at version 2, however often the reconciler runs.
    await reconcileAll(t.deps);
    expect(applies(await feed(other))).toEqual([]);
    expect((await up(agent, r!)).status).toBe(200);
    await t.deps.background.drain();
    const next = applies(await feed(other));
    expect(next.map((x) => dataOf(x).application.version)).toEqual([2]);
    await up(other, next[0]!);
    expect((await json<App>(call("GET", `${APPS}/rolling`))).deploymentStatus).toMatchObject({
      total: 2,
      available: 2,
    });
    await call("DELETE", `${APPS}/rolling`);
    for (const a of [a100, h100]) for (const x of removals(await feed(a))) await a.deleted(x.id);
  });

  it("keeps deployment counts on the application: moved by each deployment's change, repaired by a full pass", async () => {
    const created = await json<App>(
      call("POST", APPS, app("counted", { scheduling: { type: "AllDevices" } })),
    );
    expect(created.deploymentStatus).toMatchObject({ total: 2, available: 0, pending: 2 });
    for (const agent of [a100, h100])
      for (const r of applies(await feed(agent)))
        await call(
          "POST",
          `/api/v1/agent/reservations/${r.id}/status`,
          { state: "running", containers: [{ name: "server", state: "running", restartCount: 0 }] },
          agent.session,
        );
    const listed = await json<{ items: App[] }>(call("GET", APPS));
    expect(listed.items.find((a) => a.id === created.id)?.deploymentStatus).toMatchObject({
      total: 2,
      available: 2,
      pending: 0,
    });
    // A count gone wrong (a lost change): the next full pass counts again.
    const wrong = { total: 7, available: 0, updated: 0, failed: 3, unknown: 0 };
    await t.deps.repos.commit([t.deps.repos.deployments.recount(created.id, wrong)]);
    expect((await json<App>(call("GET", `${APPS}/counted`))).deploymentStatus.total).toBe(7);
    await reconcileAll(t.deps);
    expect((await json<App>(call("GET", `${APPS}/counted`))).deploymentStatus).toMatchObject({
      total: 2,
      available: 2,
    });
    await call("DELETE", `${APPS}/counted`);
    for (const a of [a100, h100]) for (const x of removals(await feed(a))) await a.deleted(x.id);
    expect(await t.deps.repos.deployments.counts(created.id)).toEqual({
      total: 0,
      available: 0,
      updated: 0,
      failed: 0,
      unknown: 0,
    });
  });

  it("redeploys a new version as a successor that supersedes the running one; the same object again changes nothing", async () => {
    const before = (await deployments("web"))[0]!;
    const same = await json<App>(
      call("PATCH", `${APPS}/web`, {
        spec: { containers: [{ name: "server", command: "exec sleep 1000" }] },
      }),
    );
    expect(same.version).toBe(1);
    const updated = await json<App>(
      call("PATCH", `${APPS}/web`, {
        spec: { containers: [{ name: "server", command: "exec sleep 2000" }] },
      }),
    );
    expect(updated.version).toBe(2);
    const got = await feed(a100);
    const [successor] = applies(got);
    expect(dataOf(successor!)).toMatchObject({
      supersedes: before.reservationId,
      application: { version: 2 },
    });
    expect(removals(got).map((r) => r.id)).toEqual([before.reservationId]);
    expect((await deployments("web"))[0]).toMatchObject({
      version: 2,
      state: "pending",
      reservationId: successor!.id,
    });
    // A restart: the config version, the same spec, everywhere.
    const restarted = await json<{ configVersion: number }>(call("POST", `${APPS}/web/restart`));
    expect(restarted.configVersion).toBe(2);
    const [again] = applies(await feed(a100));
    expect(dataOf(again!).application).toMatchObject({ version: 2, configVersion: 2 });
  });

  it("marks a deployment failed with the device's error, and a container without restarts left", async () => {
    const [d] = await deployments("web");
    const r = (await t.deps.repos.reservations.get(a100.deviceId, d!.reservationId))!;
    await call(
      "POST",
      `/api/v1/agent/reservations/${r.id}/status`,
      {
        state: "running",
        containers: [
          { name: "server", state: "failed", message: "exited with 3", restartCount: 5, exitCode: 3 },
        ],
      },
      a100.session,
    );
    expect((await deployments("web"))[0]).toMatchObject({
      state: "failed",
      containers: [expect.objectContaining({ name: "server", restartCount: 5, exitCode: 3 })],
    });
  });

  it("deletes an application: 202 deleting, every deployment removed, then it is gone", async () => {
    const res = await call("DELETE", `${APPS}/web`);
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ status: "deleting" });
    for (const r of removals(await feed(a100))) await a100.deleted(r.id);
    expect((await call("GET", `${APPS}/web`)).status).toBe(404);
    const ns = await json<{ applicationCount: number }>(call("GET", "/api/v1/namespaces/default"));
    expect(ns.applicationCount).toBe(0);
  });

  it("closes the race of two reconcilers on one application: one deployment and one reservation per device", async () => {
    const created = await json<App>(call("POST", APPS, app("raced", { scheduling: { type: "NoDevices" } })));
    // Stored as AllDevices without a pass of its own: the passes below race to deploy it.
    const stored = (await t.deps.repos.applications.get(created.id))!;
    const next = {
      ...stored,
      scheduling: { type: "AllDevices" as const, selectors: {}, nodeGroups: [] },
      revision: 2,
    };
    expect((await t.deps.repos.commit([t.deps.repos.applications.replace(stored, next)])).ok).toBe(true);
    await Promise.all(Array.from({ length: 4 }, () => reconcileApplication(t.deps, created.id)));
    expect((await deployments("raced")).map((d) => d.deviceId).sort()).toEqual(
      [a100.deviceId, h100.deviceId].sort(),
    );
    for (const agent of [a100, h100]) {
      const mine = applies(await feed(agent)).filter((r) => dataOf(r).application.id === created.id);
      expect(mine).toHaveLength(1);
      const [d] = (await deployments("raced")).filter((x) => x.deviceId === agent.deviceId);
      expect(d!.reservationId).toBe(mine[0]!.id);
    }
    await call("DELETE", `${APPS}/raced`);
    for (const agent of [a100, h100]) for (const r of removals(await feed(agent))) await agent.deleted(r.id);
  });

  it("refuses bad input with a 400 naming the field, a taken name with 409, a member key with 403; nothing is stored", async () => {
    await call("POST", APPS, app("taken"));
    const member = await t.key("member");
    const cases: [Record<string, unknown>, number, RegExp, string?][] = [
      [app("x", { type: "systemd" }), 400, /type systemd is not supported/],
      [
        app("x", { scheduling: { type: "AllDevices", selectors: { a: "b" } } }),
        400,
        /selectors are used only with Conditional/,
      ],
      [app("x", { scheduling: { type: "Conditional" } }), 400, /Conditional needs selectors/],
      [app("x", { scheduling: { selector: { a: "b" } } }), 400, /use scheduling.selectors/],
      [
        app("x", { scheduling: { type: "Sometimes" } }),
        400,
        /type must be NoDevices, AllDevices or Conditional/,
      ],
      [app("x", { spec: { containers: [] } }), 400, /at least one container/],
      [
        app("x", {
          spec: {
            containers: [
              { name: "a", command: "x" },
              { name: "a", command: "y" },
            ],
          },
        }),
        400,
        /container name a is given twice/,
      ],
      [
        app("x", {
          spec: {
            containers: [{ name: "a", command: "x", env: [{ name: "K", value: "v", fromSecret: "s" }] }],
          },
        }),
        400,
        /needs a value or fromSecret: one of them/,
      ],
      [
        app("x", {
          spec: { containers: [{ name: "a", command: "x", env: [{ name: "K", fromSecret: "nope" }] }] },
        }),
        400,
        /secret nope not found in namespace default/,
      ],
      [
        app("x", {
          spec: {
            containers: [
              { name: "a", command: "x", restartPolicy: { name: "always", maximumRetryCount: 3 } },
            ],
          },
        }),
        400,
        /maximumRetryCount goes with on-failure only/,
      ],
      [
        app("x", { type: "container", spec: { containers: [{ name: "a", command: "x" }] } }),
        400,
        /needs an image/,
      ],
      [
        app("x", { spec: { containers: [{ name: "a", image: "busybox" }] } }),
        400,
        /runs programs, not images/,
      ],
      // Container settings: for containers only, each checked.
      [
        app("x", { spec: { containers: [{ name: "a", command: "x", volumes: ["/data:/data"] }] } }),
        400,
        /volumes is for containers/,
      ],
      ...(
        [
          [{ volumes: ["data:/data"] }, /invalid mount path: \\"data\\"/],
          [{ volumes: ["/a:/b:rx"] }, /invalid mount spec/],
          [{ hostname: "web", networkMode: "host" }, /on the host's network has the host's name/],
          [{ hostname: "-bad-" }, /must be a host name/],
          [{ imagePullTimeout: "3h" }, /at most 2h/],
          [{ volumes: [`/${"é".repeat(2100)}:/data`] }, /a volume's paths are at most 4096 bytes/],
          [{ imagePullTimeout: "soon" }, /imagePullTimeout must be a duration/],
          [{ memoryHardLimit: 1024 }, /at least 6291456 bytes/],
          [{ capAdd: ["NET ADMIN"] }, /capability name/],
          [
            {
              volumes: ["/srv/certs:/run/certs:ro"],
              secrets: [{ name: "tok", filepath: "/run/certs/a.pem" }],
            },
            /overlaps the volume at \/run\/certs/,
          ],
        ] as const
      ).map(
        ([extra, message]) =>
          [
            app("x", {
              type: "container",
              spec: { containers: [{ name: "a", image: "busybox", ...extra }] },
            }),
            400,
            message,
          ] as [Record<string, unknown>, number, RegExp],
      ),
      [app("taken"), 409, /application taken already exists in namespace default/],
      [app("x"), 403, /admin/, member],
    ];
    for (const [body, status, message, token] of cases) {
      const before = await snapshot(t.db);
      const err = await errorOf(await call("POST", APPS, body, token));
      expect(err.status, JSON.stringify(body).slice(0, 100)).toBe(status);
      expect(`${err.message} ${JSON.stringify(err.details ?? "")}`).toMatch(message);
      expect(await snapshot(t.db)).toBe(before);
    }
    expect((await call("GET", "/api/v1/namespaces/nowhere/applications/x")).status).toBe(404);
    const other = await t.workspace("apps-other");
    expect((await call("GET", `${APPS}/taken`, undefined, other)).status).toBe(404);
  });
});

/** A device silent for twice its TTL: its deployments are `unknown` until it reports again (§3). */
describe("applications on a silent device", () => {
  it("turns a running deployment unknown after 2× the TTL (counted from the control plane's own return), and back when the device reports", async () => {
    const clock = manualClock();
    const t = await testApp({ clock });
    const ttlMs = t.deps.config.deviceTtlSeconds * 1000;
    const agent = await registerAgent(t);
    await agent.poll(0);
    const call = (method: string, path: string, body?: unknown) =>
      t.call(method, path, { token: t.admin, body });
    const view = async () =>
      (await (await call("GET", `${APPS}/web`)).json()) as {
        deploymentStatus: { available: number; unknown: number; total: number };
      };
    const deployment = async () =>
      (
        (await (await call("GET", `${APPS}/web/deployments`)).json()) as {
          items: (Dep & { message: string })[];
        }
      ).items[0]!;
    expect(
      (
        await call("POST", APPS, {
          name: "web",
          type: "process",
          scheduling: { type: "AllDevices" },
          spec: { containers: [{ name: "server", command: "exec sleep 1000" }] },
        })
      ).status,
    ).toBe(201);
    const { reservationId } = await deployment();
    const report = () =>
      t.call("POST", `/api/v1/agent/reservations/${reservationId}/status`, {
        token: agent.session,
        body: { state: "running", containers: [{ name: "server", state: "running", restartCount: 0 }] },
      });
    expect((await report()).status).toBe(200);
    expect((await view()).deploymentStatus).toMatchObject({ total: 1, available: 1, unknown: 0 });

    // Silent for 2× the TTL, but the control plane itself was away (its pulse came back just now): not yet.
    await t.deps.repos.devices.pulse(clock.now().toISOString(), ttlMs);
    clock.advance(2 * ttlMs + 1000);
    await t.deps.repos.devices.pulse(clock.now().toISOString(), ttlMs);
    await reconcileAll(t.deps);
    expect((await deployment()).state).toBe("running");
    // Silent for 2× the TTL since: unknown, and not available.
    clock.advance(ttlMs);
    await t.deps.repos.devices.pulse(clock.now().toISOString(), 10 * ttlMs);
    await reconcileAll(t.deps);
    expect((await deployment()).state).toBe("running");
    clock.advance(ttlMs + 1000);
    await t.deps.repos.devices.pulse(clock.now().toISOString(), 10 * ttlMs);
    await reconcileAll(t.deps);
    const silent = await deployment();
    expect(silent.state).toBe("unknown");
    expect(silent.message).toContain("has not been seen since");
    expect((await view()).deploymentStatus).toMatchObject({ total: 1, available: 0, unknown: 1 });
    // Nothing more is written while it stays silent; its report (the same as before) brings it back.
    await reconcileAll(t.deps);
    expect((await deployment()).state).toBe("unknown");
    await agent.poll(0);
    expect((await report()).status).toBe(200);
    expect((await deployment()).state).toBe("running");
    expect((await view()).deploymentStatus).toMatchObject({ total: 1, available: 1, unknown: 0 });
  });
});

/** An application's logs on a device are capped (5 MiB, applications.md §6): the oldest chunks go first. */
describe("application logs over the cap", () => {
  it("keeps at most 5 MiB of a deployment's output, dropping the oldest first; logs start at the oldest kept", async () => {
    const t = await testApp();
    const agent = await registerAgent(t);
    await agent.poll(0);
    const call = (method: string, path: string) => t.call(method, path, { token: t.admin });
    expect(
      (
        await t.call("POST", APPS, {
          token: t.admin,
          body: {
            name: "chatty",
            type: "process",
            scheduling: { type: "AllDevices" },
            spec: { containers: [{ name: "main", command: "exec sleep 1000" }] },
          },
        })
      ).status,
    ).toBe(201);
    const [{ reservationId }] = (
      (await (await call("GET", `${APPS}/chatty/deployments`)).json()) as { items: Dep[] }
    ).items as [Dep];
    // 24 chunks of 256 KiB (6 MiB), each naming itself on its first line, one request each.
    const chunk = (seq: number) => ({
      stream: "stdout",
      seq,
      container: "main",
      data: `${`chunk ${String(seq).padStart(2, "0")}\n`.padEnd(256 * 1024 - 1, "x")}\n`,
    });
    for (let seq = 1; seq <= 24; seq++) {
      const res = await t.call("POST", `/api/v1/agent/reservations/${reservationId}/output`, {
        token: agent.session,
        body: { chunks: [chunk(seq)] },
      });
      expect(res.status).toBe(200);
    }
    const kept = await t.deps.repos.output.since(reservationId, 0, 100);
    const bytes = kept.reduce((n, c) => n + Buffer.byteLength(c.data), 0);
    expect(bytes).toBeLessThanOrEqual(5 * 1024 * 1024);
    expect(bytes).toBeGreaterThanOrEqual(4 * 1024 * 1024);
    // The newest all there, in order, from the oldest one kept.
    const seqs = kept.map((c) => c.seq);
    expect(seqs.at(-1)).toBe(24);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => seqs[0]! + i));
    const logs = (await (await call("GET", `${APPS}/chatty/devices/${agent.deviceId}/logs`)).json()) as {
      output: { data: string }[];
    };
    expect(logs.output[0]!.data.startsWith(`chunk ${String(seqs[0]).padStart(2, "0")}\n`)).toBe(true);
    expect(logs.output.at(-1)!.data.startsWith("chunk 24\n")).toBe(true);
  });
});

/** `n` simulated agents, each past its first poll. */
async function simAgents(t: TestApp, n: number): Promise<SimAgent[]> {
  const agents: SimAgent[] = [];
  for (let i = 0; i < n; i++) {
    const a = await registerAgent(t);
    await a.poll(0);
    agents.push(a);
  }
  return agents;
}

/** A process application's one program at version `v`. */
const programSpec = (v: number) => ({
  containers: [{ name: "main", command: `echo v${v}; exec sleep 1000` }],
});

/** The device of a deployment says its program runs. */
const reportRunning = (t: TestApp, agents: SimAgent[], d: Dep) =>
  t.call("POST", `/api/v1/agent/reservations/${d.reservationId}/status`, {
    token: agents.find((a) => a.deviceId === d.deviceId)!.session,
    body: { state: "running", containers: [{ name: "main", state: "running", restartCount: 0 }] },
  });

/**
 * Rollouts where nothing coalesces passes in memory (Lambda, as testApp's awaited background): each report
 * runs a pass under the application's lease, one at a time, and nothing is lost to a lease held elsewhere.
 */
describe("rollout passes under the application's lease", () => {
  it("goes on with each device's report, one device at a time; a report meeting a held lease leaves its change queued", async () => {
    const t = await testApp();
    const agents = await simAgents(t, 3);
    const call = (method: string, path: string, body?: unknown) =>
      t.call(method, path, { token: t.admin, body });
    const spec = programSpec;
    const created = (await (
      await call("POST", APPS, {
        name: "roll",
        type: "process",
        scheduling: { type: "AllDevices" },
        rollout: { maxUnavailable: 1 },
        spec: spec(1),
      })
    ).json()) as { id: string };
    const deployments = async () =>
      ((await (await call("GET", `${APPS}/roll/deployments`)).json()) as { items: Dep[] }).items;
    const report = (d: Dep) => reportRunning(t, agents, d);
    for (const d of await deployments()) expect((await report(d)).status).toBe(200);
    expect(await t.deps.repos.applications.mark(created.id)).toBeUndefined();

    await call("PATCH", `${APPS}/roll`, { spec: spec(2) });
    const at2 = async () => (await deployments()).filter((d) => d.version === 2);
    expect(await at2()).toHaveLength(1);
    // Each report of the new version running lets the next device go, at once.
    expect((await report((await at2())[0]!)).status).toBe(200);
    expect(await at2()).toHaveLength(2);
    // The lease held elsewhere (another instance mid-pass): this report runs no pass, its change stays queued.
    const held = await t.deps.repos.applications.claimPass(created.id, new Date(), 30_000);
    expect(held).toBeDefined();
    const second = (await at2()).find((d) => d.state !== "running")!;
    expect((await report(second)).status).toBe(200);
    expect(await at2()).toHaveLength(2);
    expect(await t.deps.repos.applications.mark(created.id)).toBeDefined();
    // The sweep takes it from the queue.
    await t.deps.repos.applications.claimFullPass(new Date(), FULL_PASS_MS);
    await sweepApplications(t.deps);
    expect(await at2()).toHaveLength(3);
    await t.deps.repos.applications.releasePass(created.id, held!);
    for (const d of (await at2()).filter((x) => x.state !== "running")) await report(d);
    expect((await deployments()).every((d) => d.version === 2 && d.state === "running")).toBe(true);
    // Done: the next sweep finds nothing left and takes it out of the queue.
    await sweepApplications(t.deps);
    expect(await t.deps.repos.applications.mark(created.id)).toBeUndefined();
  });
});

/** `rollout.minReadySeconds` (applications.md §2): running that long before available, as a DaemonSet's. */
describe("minReadySeconds", () => {
  it("counts a deployment available, and lets the rollout go on, only once it has run for minReadySeconds", async () => {
    const clock = manualClock();
    const t = await testApp({ clock });
    const agents = await simAgents(t, 2);
    const call = (method: string, path: string, body?: unknown) =>
      t.call(method, path, { token: t.admin, body });
    const spec = programSpec;
    const res = await call("POST", APPS, {
      name: "slow",
      type: "process",
      scheduling: { type: "AllDevices" },
      rollout: { maxUnavailable: 1, minReadySeconds: 30 },
      spec: spec(1),
    });
    expect(((await res.json()) as { rollout: unknown }).rollout).toEqual({
      maxUnavailable: 1,
      minReadySeconds: 30,
    });
    const deployments = async () =>
      ((await (await call("GET", `${APPS}/slow/deployments`)).json()) as { items: Dep[] }).items;
    const available = async () =>
      ((await (await call("GET", `${APPS}/slow`)).json()) as { deploymentStatus: { available: number } })
        .deploymentStatus.available;
    const report = (d: Dep) => reportRunning(t, agents, d);
    // The sweeps below pass the queue only (the full pass is taken for the test's whole span).
    await t.deps.repos.applications.claimFullPass(clock.now(), 3_600_000);
    for (const d of await deployments()) await report(d);
    expect(await available()).toBe(0);
    clock.advance(29_000);
    await sweepApplications(t.deps);
    expect(await available()).toBe(0);
    clock.advance(2_000);
    await sweepApplications(t.deps);
    expect(await available()).toBe(2);

    // An update, one device at a time: the next goes only once the first has been up for 30 s.
    await call("PATCH", `${APPS}/slow`, { spec: spec(2) });
    const at2 = async () => (await deployments()).filter((d) => d.version === 2);
    expect(await at2()).toHaveLength(1);
    await report((await at2())[0]!);
    await sweepApplications(t.deps);
    expect(await at2()).toHaveLength(1);
    clock.advance(31_000);
    await sweepApplications(t.deps);
    expect(await at2()).toHaveLength(2);
    // Changing it alone changes the rollout, not the version.
    const patched = await call("PATCH", `${APPS}/slow`, { rollout: { minReadySeconds: 0 } });
    expect((await patched.json()) as { version: number; rollout: unknown }).toMatchObject({
      version: 2,
      rollout: { maxUnavailable: 1, minReadySeconds: 0 },
    });
  });
});

/** More devices than a pass writes (200): the sweep goes on with the next passes at once, within its budget. */
describe("an application on more devices than a pass writes", () => {
  it("is written 200 devices a pass, and a sweep takes the rest in one go", async () => {
    const t = await testApp();
    const agents = await simAgents(t, 401);
    expect(agents).toHaveLength(401);
    const created = (await (
      await t.call("POST", APPS, {
        token: t.admin,
        body: { name: "wide", type: "process", scheduling: { type: "AllDevices" }, spec: programSpec(1) },
      })
    ).json()) as { id: string };
    const count = async () => (await t.deps.repos.deployments.ofApplication(created.id)).length;
    // Lambda-like (background awaited): the write's pass stops at 200 and leaves the rest queued.
    expect(await count()).toBe(200);
    expect(await t.deps.repos.applications.mark(created.id)).toBeDefined();
    await t.deps.repos.applications.claimFullPass(new Date(), FULL_PASS_MS);
    // (A budget no busy machine runs out of: what is tested is going on, not the budget.)
    await sweepApplications(t.deps, { passBudgetMs: 600_000 });
    expect(await count()).toBe(401);
  }, 60_000);
});

describe("an application read back", () => {
  it("shows its containers as the API takes them: a GET's spec sent back in a PATCH changes nothing", async () => {
    const t = await testApp();
    const call = (method: string, path: string, body?: unknown) =>
      t.call(method, path, { token: t.admin, body });
    const container = {
      name: "web",
      image: "nginx:1",
      ports: ["18080:8080", "9000/udp", "443"],
      volumes: ["/srv/www:/usr/share/nginx/html:ro", "/var/cache/web:/cache"],
      imagePullTimeout: "15m",
      capDrop: ["NET_RAW"],
    };
    expect(
      (
        await call("POST", APPS, {
          name: "web",
          scheduling: { type: "AllDevices" },
          spec: { containers: [container] },
        })
      ).status,
    ).toBe(201);
    const got = (await (await call("GET", `${APPS}/web`)).json()) as {
      version: number;
      spec: { containers: Record<string, unknown>[] };
    };
    expect(got.spec.containers[0]).toMatchObject({
      ports: ["18080:8080", "9000/udp", "443"],
      volumes: ["/srv/www:/usr/share/nginx/html:ro", "/var/cache/web:/cache"],
      imagePullTimeout: "900s",
    });
    const again = await call("PATCH", `${APPS}/web`, { spec: got.spec, expectedVersion: got.version });
    expect(again.status).toBe(200);
    expect(((await again.json()) as { version: number }).version).toBe(1);
  });
});
