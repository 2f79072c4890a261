import { describe, expect, it } from "vitest";
import { errorOf, type TestApp, testApp } from "../helpers/app.ts";
import { manualClock } from "../helpers/clock.ts";
import { gpuAgent, submit } from "../helpers/jobs.ts";

const LAUNCHER_KEYS = [
  "allowUnknownImages",
  "config",
  "containersUseHostNetwork",
  "defaultImage",
  "images",
  "placementConstraints",
  "queues",
  "resourceLimits",
  "resourceProfiles",
  "supportsContainers",
  "supportsInitContainers",
];

interface Info {
  placementConstraints: { name: string; value?: string }[];
  resourceLimits: { type: string; maxValue?: string }[];
  berth: { generatedAt: string; gpuTypes: { product: string; gpus: number; free: number }[] };
  [k: string]: unknown;
}
const info = async (t: TestApp, token = t.admin) => {
  const res = await t.call("GET", "/api/v1/cluster-info", { token });
  return { res, body: (await res.json()) as Info };
};

describe("GET /api/v1/cluster-info", () => {
  it("answers the Launcher's keys, exactly, and Berth's extras under berth, cacheable for 30 s", async () => {
    const t = await testApp();
    await gpuAgent(t, 2, { labels: { rack: "r1" }, resources: { cpu: "64", memory: "512Gi" } });
    await t.call("POST", "/api/v1/profiles", {
      token: t.admin,
      body: { name: "big", displayName: "Big", gpus: { count: 2, type: "A100" }, queue: "default" },
    });
    const { res, body } = await info(t, await t.key("member"));
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("private, max-age=30");
    expect(
      Object.keys(body)
        .filter((k) => k !== "berth")
        .sort(),
    ).toEqual(LAUNCHER_KEYS.filter((k) => k !== "defaultImage"));
    expect(body).toMatchObject({
      supportsContainers: true,
      supportsInitContainers: false,
      containersUseHostNetwork: false,
      queues: ["default"],
      images: [],
      allowUnknownImages: true,
      config: expect.arrayContaining([{ name: "target", valueType: "string", value: "fleet" }]),
      resourceProfiles: [
        { name: "big", displayName: "Big", limits: [], queue: "default", placementConstraints: [] },
      ],
      berth: {
        targets: ["fleet", "cloud", "auto"],
        gpuTypes: [{ product: "NVIDIA A100-SXM4-80GB", devices: 1, gpus: 2, free: 2 }],
        cloudGpuFamilies: [],
        profileGpus: { big: { count: 2, type: "A100" } },
        maxDurationSeconds: 2592000,
        quotas: { use: { gpus: 0 } },
      },
    });
    expect(body.placementConstraints).toEqual(
      expect.arrayContaining([
        { name: "rack", value: "r1" },
        { name: "nodeGroup", value: "default" },
        { name: "gpu.product", value: "NVIDIA A100-SXM4-80GB" },
      ]),
    );
    expect(body.placementConstraints.map((c) => c.name)).not.toContain("hostname");
    expect(body.resourceLimits).toEqual([
      { type: "cpuCount", maxValue: "64" },
      { type: "memory", maxValue: String(512 * 1024) },
      { type: "memorySwap", maxValue: String(512 * 1024) },
    ]);
    expect(body.resourceLimits.map((l) => l.type)).not.toContain("cpuTime");
  });

  it("serves one summary for a minute, rebuilt by the request that finds it older; a held lease serves the old copy", async () => {
    const clock = manualClock();
    const t = await testApp({ clock });
    const agent = await gpuAgent(t, 1);
    const first = (await info(t)).body;
    await t.call("PATCH", `/api/v1/devices/${agent.deviceId}`, {
      token: t.admin,
      body: { labels: { zone: "b" } },
    });
    clock.advance(30_000);
    expect((await info(t)).body.berth.generatedAt).toBe(first.berth.generatedAt);
    // Another request holds the rebuild lease: this one serves the copy it has.
    clock.advance(31_000);
    const now = clock.now();
    expect(
      await t.deps.repos.cluster.leaseRebuild("default", {
        now: now.toISOString(),
        until: new Date(now.getTime() + 30_000).toISOString(),
        staleBefore: new Date(now.getTime() - 60_000).toISOString(),
      }),
    ).toBe(true);
    const old = (await info(t)).body;
    expect(old.berth.generatedAt).toBe(first.berth.generatedAt);
    expect(old.placementConstraints).not.toContainEqual({ name: "zone", value: "b" });
    // Its lease runs out without a rebuild: the next request rebuilds.
    clock.advance(31_000);
    const rebuilt = (await info(t)).body;
    expect(rebuilt.berth.generatedAt).toBe(clock.now().toISOString());
    expect(rebuilt.placementConstraints).toContainEqual({ name: "zone", value: "b" });
  });
});

describe("the JobConfigs cluster info advertises", () => {
  it("set target, gpus, gpuType and maxDuration from config[] when the request leaves them out", async () => {
    const t = await testApp();
    await gpuAgent(t, 2);
    const config = [
      { name: "gpus", valueType: "int", value: "2" },
      { name: "gpuType", valueType: "string", value: "A100" },
      { name: "maxDuration", valueType: "int", value: "600" },
      { name: "target", valueType: "string", value: "fleet" },
    ];
    const read = await submit(t, { config });
    expect(read.status).toBe(201);
    expect(read.body).toMatchObject({ gpus: { count: 2, type: "A100" }, maxDuration: 600, target: "fleet" });
    // The fields themselves win.
    const own = await submit(t, { config, gpus: { count: 0 }, maxDuration: 60 });
    expect(own.body).toMatchObject({ gpus: { count: 0 }, maxDuration: 60 });
    const bad = await submit(t, { config: [{ name: "target", value: "moon" }] });
    expect(bad.status).toBe(400);
    expect(bad.body.error?.message).toBe('config target: "moon" is not one of fleet, cloud, auto');
    expect((await submit(t, { config: [{ name: "gpus", value: "-1" }] })).status).toBe(400);
  });
});

describe("/api/v1/cluster-config", () => {
  const put = (t: TestApp, body: unknown, token = t.admin) =>
    t.call("PUT", "/api/v1/cluster-config", { token, body });

  it("starts at revision 0 allowing any image, and is read and written by admin keys only", async () => {
    const t = await testApp();
    const member = await t.key("member");
    const get = await t.call("GET", "/api/v1/cluster-config", { token: t.admin });
    expect(await get.json()).toEqual({ images: [], allowUnknownImages: true, revision: 0 });
    expect((await put(t, { images: ["a"] }, member)).status).toBe(403);
    expect((await t.call("GET", "/api/v1/cluster-config", { token: member })).status).toBe(403);
    const set = await put(t, { images: ["busybox", "alpine:3"], defaultImage: "busybox" });
    expect(set.status).toBe(200);
    expect(await set.json()).toMatchObject({
      images: ["busybox", "alpine:3"],
      defaultImage: "busybox",
      revision: 1,
    });
    expect((await info(t, member)).body).toMatchObject({
      images: ["busybox", "alpine:3"],
      defaultImage: "busybox",
      allowUnknownImages: true,
    });
  });

  it("answers bad input with a 400 and a stale expectedRevision with a 409, changing nothing", async () => {
    const t = await testApp();
    await put(t, { images: ["busybox"] });
    for (const body of [
      { images: ["a", "a"] },
      { images: [], allowUnknownImages: false },
      { images: ["a"], defaultImage: "b", allowUnknownImages: false },
      { images: [""] },
      { images: "busybox" },
    ]) {
      const res = await put(t, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect((await errorOf(res)).code).toBe("InvalidRequest");
    }
    const stale = await put(t, { images: ["x"], expectedRevision: 0 });
    expect(await errorOf(stale)).toMatchObject({ status: 409, code: "Conflict" });
    const now = await (await t.call("GET", "/api/v1/cluster-config", { token: t.admin })).json();
    expect(now).toMatchObject({ images: ["busybox"], revision: 1 });
  });

  it("with allowUnknownImages false, refuses a job naming another image (400 naming the allowed), storing nothing", async () => {
    const t = await testApp();
    await gpuAgent(t, 1);
    await put(t, { images: ["busybox", "alpine:3"], allowUnknownImages: false });
    const refused = await submit(t, { container: { image: "ubuntu" } });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({
      code: "InvalidRequest",
      message: expect.stringContaining("image ubuntu is not allowed here; allowed: busybox, alpine:3"),
    });
    const jobs = (await (await t.call("GET", "/api/v1/jobs", { token: t.admin })).json()) as {
      items: unknown[];
    };
    expect(jobs.items).toHaveLength(0);
    expect((await submit(t, { container: { image: "alpine:3" } })).status).toBe(201);
    // A job with no image is not an image choice.
    expect((await submit(t, {})).status).toBe(201);
  });
});
