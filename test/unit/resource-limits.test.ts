import { describe, expect, it } from "vitest";
import { dockerRunArgs } from "../../agent/runtimes/docker.ts";
import { ContainerData } from "../../shared/domain/reservation-data.ts";
import { mergeLimits, readLimits } from "../../shared/domain/resource-limits.ts";
import { errorOf, type TestApp, testApp } from "../helpers/app.ts";
import { gpuAgent, submit } from "../helpers/jobs.ts";

describe("readLimits", () => {
  it("reads cpuCount as cores and memory, memorySwap as MB (or a quantity with a unit), swap on top of memory", () => {
    expect(
      readLimits([
        { type: "cpuCount", value: "2.5" },
        { type: "memory", defaultValue: "4Gi" },
        { type: "memorySwap", value: "1024" },
      ]),
    ).toEqual({ limits: { cpus: 2.5, memoryMiB: 4096, memorySwapMiB: 5120 }, problems: [] });
    expect(readLimits([{ type: "cpuCount", maxValue: "8" }]).limits).toEqual({});
  });

  it("names what is wrong: cpuTime and unknown types, values above maxValue, swap without memory", () => {
    const codes = (limits: Parameters<typeof readLimits>[0]) =>
      readLimits(limits).problems.map((p) => [p.code, p.message]);
    expect(codes([{ type: "cpuTime", value: "60" }])[0]).toEqual([
      "RequestNotSupported",
      expect.stringContaining("cpuTime is not supported"),
    ]);
    expect(codes([{ type: "gpuCount", value: "1" }])[0]![1]).toContain("valid: cpuCount, memory, memorySwap");
    expect(codes([{ type: "memory", value: "9000", maxValue: "8192" }])).toEqual([
      ["InvalidRequest", "resource limit memory: 9000 is above its maxValue 8192"],
    ]);
    expect(codes([{ type: "cpuCount", value: "lots" }])[0]![1]).toContain('"lots" is not a positive amount');
    expect(codes([{ type: "memorySwap", value: "512" }])[0]![1]).toContain("needs a memory limit");
  });
});

describe("mergeLimits", () => {
  it("takes the request's values over the profile's, type by type, keeping the profile's maxValue", () => {
    expect(
      mergeLimits(
        [{ type: "cpuCount", value: "16", maxValue: "64" }],
        [
          { type: "cpuCount", defaultValue: "2", maxValue: "8" },
          { type: "memory", value: "1024" },
        ],
      ),
    ).toEqual([
      { type: "cpuCount", defaultValue: "2", value: "16", maxValue: "8" },
      { type: "memory", value: "1024" },
    ]);
  });
});

describe("dockerRunArgs with resource limits", () => {
  it("passes --cpus, --memory and --memory-swap (memory plus swap) before the image", () => {
    const args = dockerRunArgs(
      "r1",
      ContainerData.parse({ image: "busybox", cpus: 1.5, memoryMiB: 256, memorySwapMiB: 384 }),
    );
    const flagValue = (flag: string) => args[args.indexOf(flag) + 1];
    expect([flagValue("--cpus"), flagValue("--memory"), flagValue("--memory-swap")]).toEqual([
      "1.5",
      "256m",
      "384m",
    ]);
    expect(args.indexOf("busybox")).toBeGreaterThan(args.indexOf("--memory-swap"));
  });
});

describe("POST /api/v1/jobs with resource limits", () => {
  const jobCount = async (t: TestApp) =>
    ((await (await t.call("GET", "/api/v1/jobs?user=*", { token: t.admin })).json()) as { items: unknown[] })
      .items.length;

  it("gives a container job's limits to its reservation (what the agent passes to docker run)", async () => {
    const t = await testApp();
    const agent = await gpuAgent(t, 1);
    const { status } = await submit(t, {
      container: { image: "busybox" },
      resourceLimits: [
        { type: "cpuCount", value: "2" },
        { type: "memory", defaultValue: "512", maxValue: "1024" },
        { type: "memorySwap", value: "256" },
      ],
    });
    expect(status).toBe(201);
    const [r] = await agent.take();
    expect(JSON.parse(r!.data)).toMatchObject({ cpus: 2, memoryMiB: 512, memorySwapMiB: 768 });
  });

  it("refuses cpuTime, a process job with a limit and a value above maxValue with a 400 that stores nothing", async () => {
    const t = await testApp();
    await gpuAgent(t, 1);
    const refused = async (body: Record<string, unknown>) => {
      const res = await t.call("POST", "/api/v1/jobs", {
        token: t.admin,
        body: { exe: "python", ...body },
      });
      return errorOf(res);
    };
    expect(
      await refused({ container: { image: "busybox" }, resourceLimits: [{ type: "cpuTime", value: "60" }] }),
    ).toMatchObject({ status: 400, code: "RequestNotSupported" });
    const process = await refused({ resourceLimits: [{ type: "memory", value: "512" }] });
    expect(process).toMatchObject({ status: 400, code: "RequestNotSupported" });
    expect(process.message).toContain("resource limits need a container image");
    const above = await refused({
      container: { image: "busybox" },
      resourceLimits: [{ type: "cpuCount", value: "16", maxValue: "8" }],
    });
    expect(above).toMatchObject({ status: 400, code: "InvalidRequest" });
    expect(above.message).toContain("16 is above its maxValue 8");
    expect(await jobCount(t)).toBe(0);
    const quota = (await (await t.call("GET", "/api/v1/quotas", { token: t.admin })).json()) as {
      use: { gpus?: number; jobs?: number };
    };
    expect(quota.use.jobs ?? 0).toBe(0);
  });

  it("keeps a profile's limits as the bound, and runs a process job under a profile with limits without them", async () => {
    const t = await testApp();
    const agent = await gpuAgent(t, 1);
    const created = await t.call("POST", "/api/v1/profiles", {
      token: t.admin,
      body: { name: "small", limits: [{ type: "cpuCount", defaultValue: "2", maxValue: "4" }] },
    });
    expect(created.status).toBe(201);
    const over = await submit(t, {
      resourceProfile: "small",
      container: { image: "busybox" },
      resourceLimits: [{ type: "cpuCount", value: "8", maxValue: "64" }],
    });
    expect(over.status).toBe(400);
    expect(over.body.error?.message).toContain("8 is above its maxValue 4");
    const container = await submit(t, { resourceProfile: "small", container: { image: "busybox" } });
    expect(container.status).toBe(201);
    expect(JSON.parse((await agent.take())[0]!.data)).toMatchObject({ cpus: 2 });
    // A process job: its profile's limits are not enforced (nothing Docker could apply), and not refused.
    const process = await submit(t, { resourceProfile: "small" });
    expect(process.status).toBe(201);
    const [r] = await agent.take();
    expect(r!.type).toBe("process");
    expect(JSON.parse(r!.data)).not.toHaveProperty("cpus");
  });
});

describe("profiles' limits", () => {
  it("refuses a profile whose limits Berth cannot enforce or read, and stores nothing", async () => {
    const t = await testApp();
    const post = (limits: unknown[], name = "p") =>
      t.call("POST", "/api/v1/profiles", { token: t.admin, body: { name, limits } });
    expect(await errorOf(await post([{ type: "cpuTime", value: "60" }]))).toMatchObject({
      status: 400,
      code: "RequestNotSupported",
    });
    expect((await post([{ type: "cpu", value: "2" }])).status).toBe(400);
    expect((await post([{ type: "memory", value: "lots" }])).status).toBe(400);
    expect((await t.call("GET", "/api/v1/profiles/p", { token: t.admin })).status).toBe(404);
    expect((await post([{ type: "cpuCount", value: "2", maxValue: "8" }])).status).toBe(201);
    const patch = await t.call("PATCH", "/api/v1/profiles/p", {
      token: t.admin,
      body: { limits: [{ type: "cpuTime", value: "1" }] },
    });
    expect(patch.status).toBe(400);
    const stored = (await (await t.call("GET", "/api/v1/profiles/p", { token: t.admin })).json()) as {
      limits: { type: string }[];
    };
    expect(stored.limits.map((l) => l.type)).toEqual(["cpuCount"]);
  });
});
