import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";

const consoleLogger = {
  debug() {},
  info() {},
  warn: console.warn,
  error: console.error,
  child() {
    return consoleLogger;
  },
} as never;

import { readSse } from "../../cli/sse.ts";
import type { AgentReservation } from "../../shared/contracts/reservations.ts";
import { Role } from "../../shared/domain/roles.ts";
import { publicKeyToBase64 } from "../../shared/domain/signing.ts";
import { createApiKey } from "../../shared/usecases/identity/api-keys.ts";
import { prepullRound, sweepLabs } from "../../shared/usecases/labs/images.ts";
import { registerAgent, type SimAgent } from "../helpers/agents.ts";
import { errorOf, type TestApp, testApp } from "../helpers/app.ts";
import { type ManualClock, manualClock } from "../helpers/clock.ts";
import { snapshot } from "../helpers/db.ts";

const LABS = "/api/v1/labs";
const CONFIG = {
  queues: [],
  sizes: ["small", "large"],
  defaultSize: "small",
  images: {
    recommended: "ghcr.io/acme/lab:recommended",
    menu: [{ reference: "ghcr.io/acme/lab:2026.07", name: "July 2026" }],
    dropdown: [{ reference: "ghcr.io/acme/lab:2025.12" }],
  },
  quota: { default: { cpu: 4, memoryGiB: 16, gpus: 1, spawn: true } },
};

interface Setup {
  t: TestApp;
  clock: ManualClock;
  agent: SimAgent;
  alice: string;
  bob: string;
  call: (method: string, path: string, body?: unknown, token?: string) => Promise<Response>;
  /** Where the agent's next poll starts (after its boot sync). */
  next?: number;
}

async function setup(
  config: Record<string, unknown> = {},
  login: Record<string, unknown> = {},
): Promise<Setup> {
  const clock = manualClock(new Date());
  const t = await testApp({ clock, ...(process.env.LAB_DEBUG ? { logger: consoleLogger } : {}) });
  const call = (method: string, path: string, body?: unknown, token = t.admin) =>
    t.call(method, path, { token, body });
  const profile = (name: string, cpu: string, memoryMb: string, gpus = 0) =>
    call("POST", "/api/v1/profiles", {
      name,
      limits: [
        { type: "cpuCount", value: cpu },
        { type: "memory", value: memoryMb },
      ],
      ...(gpus ? { gpus: { count: gpus } } : {}),
    });
  expect((await profile("small", "2", "4096")).status).toBe(201);
  expect((await profile("large", "16", "65536", 2)).status).toBe(201);
  // The workspace's data key (made on first use of a secret; a lab's token is encrypted with it).
  await t.deps.secretKeyring.current("default");
  const put = await call("PUT", `${LABS}/config`, { ...CONFIG, ...config });
  expect(put.status, await put.clone().text()).toBe(200);
  const { publicKey } = generateKeyPairSync("x25519");
  const agent = await registerAgent(t, {
    login: {
      encryptionKey: publicKeyToBase64(publicKey),
      machineInfo: { hostname: "gpu-1", containerRuntimeVersion: "docker://27.3.1" },
      ...login,
    },
  });
  const key = async (name: string, role: Role = Role.member) =>
    (await createApiKey(t.deps, "default", { name, role })).token;
  return { t, clock, agent, alice: await key("alice"), bob: await key("bob"), call };
}

/** The lab's reservation on the agent's feed. */
async function labReservation(s: Setup): Promise<AgentReservation> {
  const feed = await s.agent.poll(0);
  s.next = feed.next;
  const r = feed.reservations.filter((x) => x.type === "container" || x.type === "process").at(-1);
  expect(r).toBeDefined();
  return r!;
}

const status = (s: Setup, id: string, body: Record<string, unknown>) =>
  s.t.call("POST", `/api/v1/agent/reservations/${id}/status`, { token: s.agent.session, body });

async function events(s: Setup, user: string, token: string, lastEventId?: string) {
  const res = await s.t.call("GET", `${LABS}/${user}/events`, {
    token,
    headers: lastEventId ? { "last-event-id": lastEventId } : {},
  });
  expect(res.status).toBe(200);
  const out: { event: string; id?: string; data: { message: string; progress?: number } }[] = [];
  for await (const e of readSse(res.body!)) out.push({ event: e.event, id: e.id, data: JSON.parse(e.data) });
  return out;
}

const spawn = (s: Setup, token: string, options: Record<string, unknown> = {}, env = {}) =>
  s.call("POST", LABS, { options: { imageClass: "recommended", size: "small", ...options }, env }, token);

describe("labs (specs/labs.md)", () => {
  it("spawns from the menu: the job, the sealed token, progress events in order through complete, the URL for its owner only", async () => {
    const s = await setup();
    const res = await spawn(
      s,
      s.alice,
      { imageList: "ghcr.io/acme/lab:2026.07", imageClass: undefined, size: "SMALL", enableDebug: true },
      { FOO: "bar" },
    );
    expect(res.status, await res.clone().text()).toBe(201);
    expect(res.headers.get("location")).toBe("/api/v1/labs/alice");
    const lab = (await res.json()) as { jobId: string; status: string; options: Record<string, unknown> };
    expect(lab).toMatchObject({
      status: "pending",
      options: { image: "ghcr.io/acme/lab:2026.07", size: "small", enableDebug: true, resetUserEnv: false },
      resources: { limits: { cpu: 2, memory: 4 * 2 ** 30 } },
    });
    const job = (await (
      await s.call("GET", `/api/v1/jobs/${lab.jobId}`, undefined, s.alice)
    ).json()) as Record<string, unknown>;
    expect(job).toMatchObject({
      tags: ["lab"],
      resourceProfile: "small",
      container: { image: "ghcr.io/acme/lab:2026.07" },
    });
    expect(job.exposedPorts).toEqual([{ targetPort: 8888, protocol: "tcp" }]);
    expect(job.lab).toBeUndefined(); // bookkeeping, not the Launcher object
    const env = Object.fromEntries(
      (job.environment as { name: string; value: string }[]).map((e) => [e.name, e.value]),
    );
    expect(env).toMatchObject({
      FOO: "bar",
      BERTH_LAB_USER: "alice",
      CONTAINER_SIZE: "small",
      DEBUG: "1",
      CPU_LIMIT: "2",
      JUPYTER_IMAGE: "ghcr.io/acme/lab:2026.07",
      IMAGE_DESCRIPTION: "July 2026",
    });
    expect(env.BERTH_LAB_TOKEN).toBeUndefined();
    const r = await labReservation(s);
    const data = JSON.parse(r.data);
    expect(data.lab).toEqual({ port: 8888, readinessPath: "/api", readinessTimeoutSeconds: 2 });
    expect(data.stopGracePeriodSeconds).toBe(1);
    expect(data.ports).toEqual([{ containerPort: 8888, protocol: "tcp" }]);
    expect(data.env.BERTH_LAB_TOKEN).toBeUndefined();
    expect(data.secretEnv.BERTH_LAB_TOKEN).toMatch(/^bs1\./); // sealed to the device
    expect(JSON.stringify(await snapshot(s.t.db))).not.toMatch(/"BERTH_LAB_TOKEN","value"/);

    // The agent's steps.
    for (let i = 1; i <= 3; i++)
      expect(
        (
          await status(s, r.id, {
            state: "pulling",
            message: `Pulling ghcr.io/acme/lab:2026.07: ${i} of 3 layers done`,
          })
        ).status,
      ).toBe(200);
    expect((await status(s, r.id, { state: "running", hostPort: 49153 })).status).toBe(200);
    expect(
      ((await (await s.call("GET", `${LABS}/alice`, undefined, s.alice)).json()) as { status: string })
        .status,
    ).toBe("pending");
    expect((await status(s, r.id, { state: "ready", hostPort: 49153 })).status).toBe(200);

    const got = await events(s, "alice", s.alice);
    expect(got.map((e) => [e.event, e.data.progress ?? null])).toEqual([
      ["info", 1],
      ["info", 30],
      ["info", 35],
      ["info", 48],
      ["info", 57],
      ["info", 80],
      ["info", 90],
      ["complete", null],
    ]);
    expect(got[0]!.data.message).toBe("Starting lab creation for alice");
    expect(got[1]!.data.message).toMatch(/^Placed on device node-/);
    expect(got[2]!.data.message).toBe("Pulling ghcr.io/acme/lab:2026.07: 1 of 3 layers done");
    expect(got[5]!.data.message).toBe("Lab container started");
    expect(got[6]!.data.message).toMatch(/^Waiting for the lab to answer on port 8888/);
    expect(got.at(-1)!.data.message).toBe("Lab for alice is ready");
    expect(got.map((e) => e.id)).toEqual(["1", "2", "3", "4", "5", "6", "7", "8"]);
    // A late reader resumes after what it saw.
    expect((await events(s, "alice", s.alice, "6")).map((e) => e.id)).toEqual(["7", "8"]);

    const view = (await (await s.call("GET", `${LABS}/alice`, undefined, s.alice)).json()) as {
      status: string;
      url: string;
      hostPort: number;
    };
    expect(view.status).toBe("running");
    expect(view.url).toMatch(/^http:\/\/10\.0\.0\.7:49153\/\?token=[A-Za-z0-9_-]{43}$/);
    // Bob sees no lab of Alice's; an admin sees it without her token.
    expect((await errorOf(await s.call("GET", `${LABS}/alice`, undefined, s.bob))).status).toBe(404);
    expect((await errorOf(await s.call("GET", `${LABS}/alice/events`, undefined, s.bob))).status).toBe(404);
    const asAdmin = (await (await s.call("GET", `${LABS}/alice`)).json()) as { url?: string; status: string };
    expect(asAdmin).toMatchObject({ status: "running" });
    expect(asAdmin.url).toBeUndefined();
    const list = (await (await s.call("GET", `${LABS}?status=running`)).json()) as {
      items: { user: { username: string } }[];
    };
    expect(list.items.map((l) => l.user.username)).toEqual(["alice"]);
    expect(
      ((await (await s.call("GET", `${LABS}?status=pending`)).json()) as { items: unknown[] }).items,
    ).toEqual([]);
    expect((await s.call("GET", LABS, undefined, s.alice)).status).toBe(403);

    // One lab per user.
    const again = await errorOf(await spawn(s, s.alice));
    expect(again).toMatchObject({ status: 409, code: "LabExists" });

    // Delete: the running lab is stopped, then gone; the slot is free again.
    const del = await s.call("DELETE", `${LABS}/alice`, undefined, s.alice);
    expect(del.status).toBe(202);
    expect(((await del.json()) as { status: string }).status).toBe("terminating");
    expect((await errorOf(await s.call("DELETE", `${LABS}/alice`, undefined, s.alice))).code).toBe(
      "OperationInProgress",
    );
    expect((await errorOf(await spawn(s, s.alice))).code).toBe("OperationInProgress");
    const feed = await s.agent.poll(s.next!);
    expect(feed.reservations.some((x) => x.id === r.id && x.control?.action === "stop")).toBe(true);
    expect((await s.agent.result(r, "ok", { exitCode: 143, stoppedBy: "stop" })).status).toBe(200);
    const deleting = await events(s, "alice", s.alice);
    expect(deleting.map((e) => [e.event, e.data.progress ?? null, e.data.message])).toEqual([
      ["info", 25, "Shutting down lab container"],
      ["info", 100, "Lab for alice deleted"],
      ["complete", null, "Lab for alice deleted"],
    ]);
    expect((await errorOf(await s.call("GET", `${LABS}/alice`, undefined, s.alice))).status).toBe(404);
    expect((await errorOf(await s.call("GET", `${LABS}/alice/events`, undefined, s.alice))).status).toBe(404);
    expect((await spawn(s, s.alice)).status).toBe(201);
  });

  it("refuses what Nublado refuses, in its order, with nothing stored", async () => {
    const s = await setup();
    await s.call("PUT", `${LABS}/quotas/bob`, { spawn: false });
    const cases: [string, Record<string, unknown>, number, string, RegExp][] = [
      [s.bob, {}, 403, "Forbidden", /Spawning a notebook is not permitted/],
      [
        s.alice,
        { imageClass: undefined, imageList: "docker.io/evil:1" },
        400,
        "UnknownImage",
        /Unknown image docker.io\/evil:1/,
      ],
      [s.alice, { imageClass: "latest-weekly" }, 400, "UnknownImage", /Unknown image class/],
      [s.alice, { imageClass: undefined, imageTag: "nope" }, 400, "UnknownImage", /No image with tag nope/],
      [s.alice, { imageClass: undefined }, 400, "InvalidRequest", /No image to spawn specified/],
      [
        s.alice,
        { imageTag: "2026.07" },
        400,
        "InvalidRequest",
        /Image specified multiple ways \(imageClass, imageTag\)/,
      ],
      [s.alice, { size: "huge" }, 400, "InvalidLabSize", /Invalid lab size huge; valid sizes: small, large/],
      [s.alice, { size: "large" }, 403, "InsufficientQuota", /Insufficient quota to spawn size large/],
    ];
    for (const [token, options, code, name, message] of cases) {
      const before = await snapshot(s.t.db);
      const err = await errorOf(await spawn(s, token, options));
      expect(err, JSON.stringify(options)).toMatchObject({ status: code, code: name });
      expect(err.message).toMatch(message);
      expect(await snapshot(s.t.db)).toBe(before);
    }
    const quota = await errorOf(await spawn(s, s.alice, { size: "large" }));
    expect(quota.details).toMatchObject({ path: "options.size" });
    // The dropdown sentinel takes imageDropdown; a reserved variable is refused.
    expect((await errorOf(await spawn(s, s.alice, {}, { BERTH_LAB_TOKEN: "x" }))).status).toBe(400);
    // The workspace's quota applies too: 429 with nothing stored.
    await s.call("PUT", `${LABS}/quotas/alice`, { cpu: 64, memoryGiB: 128, gpus: 4 });
    await s.call("PUT", "/api/v1/quotas", { maxGpus: 1 });
    const before = await snapshot(s.t.db);
    const over = await errorOf(await spawn(s, s.alice, { size: "large" }));
    expect(over).toMatchObject({ status: 429, code: "QuotaExceeded" });
    expect(await snapshot(s.t.db)).toBe(before);
    const dropdown = await spawn(s, s.alice, {
      imageClass: undefined,
      imageList: "use_image_from_dropdown",
      imageDropdown: "ghcr.io/acme/lab:2025.12",
    });
    expect(dropdown.status).toBe(201);
    expect(((await dropdown.json()) as { options: { image: string } }).options.image).toBe(
      "ghcr.io/acme/lab:2025.12",
    );
  });

  it("two spawns by one user at once make one lab", async () => {
    const s = await setup();
    const answers = await Promise.all(Array.from({ length: 4 }, () => spawn(s, s.alice)));
    const codes = answers.map((r) => r.status).sort();
    expect(codes).toEqual([201, 409, 409, 409]);
    for (const r of answers.filter((x) => x.status === 409))
      expect(["OperationInProgress", "LabExists"]).toContain((await errorOf(r)).code);
    const jobs = (await (await s.call("GET", "/api/v1/jobs?tags=lab&user=*")).json()) as { items: unknown[] };
    expect(jobs.items).toHaveLength(1);
  });

  it("a failed spawn is deleted first by the next; a spawn that never answers times out; deleting a pending spawn cancels it", async () => {
    const s = await setup();
    expect((await spawn(s, s.alice)).status).toBe(201);
    const r = await labReservation(s);
    expect(
      (await s.agent.result(r, "error", {}, "docker pull ghcr.io/acme/lab:recommended failed: not found"))
        .status,
    ).toBe(200);
    const failed = (await (await s.call("GET", `${LABS}/alice`, undefined, s.alice)).json()) as {
      status: string;
    };
    expect(failed.status).toBe("failed");
    const ev = await events(s, "alice", s.alice);
    expect(ev.slice(-2).map((e) => e.event)).toEqual(["error", "failed"]);
    expect(ev.at(-2)!.data.message).toMatch(/pull/);
    expect(ev.at(-1)!.data.message).toBe("Lab creation failed");

    expect((await spawn(s, s.alice)).status).toBe(201);
    const res = await s.t.call("GET", `${LABS}/alice/events`, { token: s.alice });
    const reader = readSse(res.body!);
    const firstFour: { event: string; data: string }[] = [];
    for await (const e of reader) {
      firstFour.push(e);
      if (firstFour.length === 4) break;
    }
    expect(firstFour.map((e) => JSON.parse(e.data).progress)).toEqual([1, 2, 20, 30]);
    expect(JSON.parse(firstFour[1]!.data).message).toBe("Deleting existing failed lab for alice");

    // Never ready: past spawnTimeoutSeconds the sweeper ends it, and says why.
    s.clock.advance(601_000);
    await s.agent.poll(0); // still seen
    const { sweepJobs } = await import("../../shared/usecases/feed/sweep.ts");
    await sweepJobs(s.t.deps);
    await sweepLabs(s.t.deps);
    const timedOut = await events(s, "alice", s.alice);
    expect(timedOut.slice(-2).map((e) => [e.event, e.data.message])).toEqual([
      ["error", "Lab spawn timed out after 600 s"],
      ["failed", "Lab creation failed"],
    ]);

    // Deleting a spawn that has not started cancels its job.
    const bobs = await spawn(s, s.bob);
    expect(bobs.status).toBe(201);
    const del = await s.call("DELETE", `${LABS}/bob`, undefined, s.bob);
    expect(del.status).toBe(202);
    const jobId = ((await bobs.json()) as { jobId: string }).jobId;
    const job = (await (await s.call("GET", `/api/v1/jobs/${jobId}`, undefined, s.bob)).json()) as {
      status: string;
    };
    expect(job.status).toBe("Canceled");
    expect((await errorOf(await s.call("GET", `${LABS}/bob`, undefined, s.bob))).status).toBe(404);
  });

  it("the image menu lists menu images once prepulled to every eligible device; the prepuller pulls one image at a time per device", async () => {
    const s = await setup({ images: { ...CONFIG.images, prepull: { refreshSeconds: 60 } } });
    const other = await registerAgent(s.t, {
      login: { machineInfo: { hostname: "gpu-2", containerRuntimeVersion: "docker://27.3.1" } },
    });
    await registerAgent(s.t, { login: { machineInfo: { hostname: "cpu-only" } } }); // no container runtime
    const images = async () =>
      (await (await s.call("GET", `${LABS}/images`, undefined, s.alice)).json()) as {
        menu: { reference: string }[];
        recommended: { prepulled: boolean };
      };
    expect((await images()).menu.map((i) => i.reference)).toEqual(["ghcr.io/acme/lab:recommended"]);
    expect((await images()).recommended.prepulled).toBe(false);

    // Two servers' sweeps at once: the round is taken by a conditional write, so one of them does it.
    const config = (await s.t.deps.repos.labs.config("default"))!;
    const rounds = await Promise.all([
      prepullRound(s.t.deps, "default", config),
      prepullRound(s.t.deps, "default", config),
    ]);
    expect(rounds.sort()).toEqual([0, 2]);
    // A second round before refreshSeconds does nothing; one in flight per device.
    expect(await sweepLabs(s.t.deps)).toEqual({ prepulls: 0 });
    const status = async () =>
      (await (await s.call("GET", `${LABS}/prepulls`)).json()) as {
        images: { prepulled: { reference: string }[]; pending: { reference: string; missing: string[] }[] };
        nodes: { name: string; eligible: boolean; comment?: string; pulling?: string }[];
      };
    const st = await status();
    expect(st.nodes).toHaveLength(3);
    const cpu = st.nodes.find((n) => !n.eligible)!;
    expect(cpu.comment).toBe("no container runtime");
    expect(st.nodes.filter((n) => n.pulling === "ghcr.io/acme/lab:recommended")).toHaveLength(2);
    expect(st.images.pending.map((i) => i.reference)).toEqual([
      "ghcr.io/acme/lab:recommended",
      "ghcr.io/acme/lab:2026.07",
    ]);

    for (const a of [s.agent, other]) {
      const pulls = (await a.poll(0)).reservations.filter((x) => x.type === "prepull");
      expect(pulls).toHaveLength(1);
      expect(JSON.parse(pulls[0]!.data)).toEqual({ image: "ghcr.io/acme/lab:recommended" });
      expect((await a.result(pulls[0]!, "ok")).status).toBe(200);
    }
    expect((await images()).recommended.prepulled).toBe(true); // optimistic, at once
    s.clock.advance(61_000);
    for (const a of [s.agent, other]) await a.poll(0);
    expect(await sweepLabs(s.t.deps)).toEqual({ prepulls: 2 });
    for (const a of [s.agent, other]) {
      const pulls = (await a.poll(0)).reservations.filter((x) => x.type === "prepull" && !x.toDelete);
      const next = pulls.find((p) => JSON.parse(p.data).image === "ghcr.io/acme/lab:2026.07")!;
      expect(next).toBeDefined();
      // The next inventory says it for itself.
      const hb = await s.t.call("POST", "/api/v1/agent/heartbeat", {
        token: a.session,
        body: {
          machineInfo: {
            hostname: "x",
            containerRuntimeVersion: "docker://27.3.1",
            containerImages: [
              { reference: "ghcr.io/acme/lab:recommended", digest: "sha256:aaa", sizeBytes: 1000 },
              { reference: "ghcr.io/acme/lab:2026.07", digest: "sha256:bbb" },
            ],
          },
        },
      });
      expect(hb.status, await hb.clone().text()).toBe(200);
    }
    expect((await images()).menu.map((i) => i.reference)).toEqual([
      "ghcr.io/acme/lab:recommended",
      "ghcr.io/acme/lab:2026.07",
    ]);
    const done = await status();
    expect(done.images.prepulled.map((i) => i.reference)).toEqual([
      "ghcr.io/acme/lab:recommended",
      "ghcr.io/acme/lab:2026.07",
    ]);
    expect(done.images.pending).toEqual([]);
    const options = (await (await s.call("GET", `${LABS}/options`, undefined, s.alice)).json()) as {
      sizes: { name: string; fits: boolean }[];
      defaultSize: string;
    };
    expect(options.sizes.map((x) => [x.name, x.fits])).toEqual([
      ["small", true],
      ["large", false],
    ]);
    expect(options.defaultSize).toBe("small");
  });

  it("deleting a lab whose device is offline ends it now and withdraws its reservation (no wait for the device)", async () => {
    const s = await setup();
    expect((await spawn(s, s.alice)).status).toBe(201);
    const r = await labReservation(s);
    await status(s, r.id, { state: "running", hostPort: 40000 });
    await status(s, r.id, { state: "ready", hostPort: 40000 });
    s.clock.advance(10 * 60_000); // the device says nothing for ten minutes: offline
    const del = await s.call("DELETE", `${LABS}/alice`, undefined, s.alice);
    expect(del.status).toBe(202);
    expect((await errorOf(await s.call("GET", `${LABS}/alice`, undefined, s.alice))).status).toBe(404);
    const jobId = ((await del.json()) as { jobId: string }).jobId;
    const job = (await (await s.call("GET", `/api/v1/jobs/${jobId}`)).json()) as Record<string, string>;
    expect(job).toMatchObject({ status: "Failed", statusCode: "NodeLost" });
    expect(job.statusMessage).toMatch(/is offline .*deleted without it/);
    // Back, the device is told to remove the workload.
    const feed = await s.agent.poll(s.next!);
    expect(feed.reservations.some((x) => x.id === r.id && x.toDelete)).toBe(true);
    expect((await spawn(s, s.alice)).status).toBe(201);
  });

  it("file servers: one per user (made, or the one you have), for a fixed lifetime, renewed; 404 NotConfigured when disabled", async () => {
    const s = await setup();
    for (const [method, path] of [
      ["POST", "/api/v1/fileservers"],
      ["GET", "/api/v1/fileservers"],
      ["GET", "/api/v1/fileservers/alice"],
      ["DELETE", "/api/v1/fileservers/alice"],
      ["POST", "/api/v1/fileservers/alice/renew"],
    ] as const)
      expect(await errorOf(await s.call(method, path)), path).toMatchObject({
        status: 404,
        code: "NotConfigured",
      });
    const on = await s.call("PUT", `${LABS}/config`, {
      ...CONFIG,
      fileserver: {
        enabled: true,
        image: "ghcr.io/acme/webdav:1",
        lifetimeSeconds: 3600,
        volumeMounts: [{ source: "/data", target: "/data" }],
      },
    });
    expect(on.status, await on.clone().text()).toBe(200);
    const made = await s.call("POST", "/api/v1/fileservers", undefined, s.alice);
    expect(made.status).toBe(200);
    const fs = (await made.json()) as { jobId: string; kind: string; running: boolean; expiresAt: string };
    expect(fs).toMatchObject({ kind: "fileserver", running: false });
    const again = (await (await s.call("POST", "/api/v1/fileservers", undefined, s.alice)).json()) as {
      jobId: string;
    };
    expect(again.jobId).toBe(fs.jobId);
    const job = (await (await s.call("GET", `/api/v1/jobs/${fs.jobId}`)).json()) as Record<string, unknown>;
    expect(job).toMatchObject({
      tags: ["fileserver"],
      gpus: { count: 0 },
      container: { image: "ghcr.io/acme/webdav:1" },
    });
    expect(job.mounts).toEqual([
      { mountPath: "/data", mountSource: { type: "host", source: { path: "/data" } } },
    ]);
    const r = await labReservation(s);
    expect(JSON.parse(r.data).lab).toMatchObject({ port: 8080, readinessPath: "/" });
    await status(s, r.id, { state: "running", hostPort: 41000 });
    await status(s, r.id, { state: "ready", hostPort: 41000 });
    const view = (await (await s.call("GET", "/api/v1/fileservers/alice", undefined, s.alice)).json()) as {
      running: boolean;
      url: string;
    };
    expect(view.running).toBe(true);
    expect(view.url).toMatch(/^http:\/\/10\.0\.0\.7:41000\/\?token=/);
    expect((await errorOf(await s.call("GET", "/api/v1/fileservers/alice", undefined, s.bob))).status).toBe(
      404,
    );
    // Renewed: another lifetime from now.
    s.clock.advance(1800_000);
    await s.agent.poll(s.next!);
    const renewed = (await (
      await s.call("POST", "/api/v1/fileservers/alice/renew", undefined, s.alice)
    ).json()) as { expiresAt: string };
    expect(Date.parse(renewed.expiresAt) - Date.parse(fs.expiresAt)).toBe(1800_000);
    // Its lifetime over (an hour from the renewal), the sweeper stops it.
    const { sweepJobs } = await import("../../shared/usecases/feed/sweep.ts");
    const jobNow = async () =>
      (await (await s.call("GET", `/api/v1/jobs/${fs.jobId}`)).json()) as {
        statusCode: string;
        statusMessage: string;
      };
    s.clock.advance(3000_000);
    await s.agent.poll(s.next!);
    await sweepJobs(s.t.deps);
    expect((await jobNow()).statusCode).not.toBe("UserStop"); // ten minutes left
    s.clock.advance(700_000);
    await s.agent.poll(s.next!);
    await sweepJobs(s.t.deps);
    expect(await jobNow()).toMatchObject({
      statusCode: "UserStop",
      statusMessage: expect.stringContaining("the end of the file server's lifetime"),
    });
  });
});
