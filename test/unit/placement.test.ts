import { describe, expect, it } from "vitest";
import type { Device } from "../../shared/domain/device.ts";
import { choosePlacement, freeGpus, jobNeeds, type PlacementRequest } from "../../shared/domain/placement.ts";

const now = new Date("2026-11-01T00:10:00.000Z");
const device = (
  id: string,
  over: Partial<Device> = {},
  gpus = 4,
  product = "NVIDIA A100-SXM4-80GB",
): Device => ({
  id,
  name: id,
  workspaceId: "w",
  nodeGroup: "default",
  registrationTokenId: "t",
  heldCpus: 0,
  heldMemoryGiB: 0,
  heldJobs: 0,
  labels: {},
  environmentVariables: {},
  info: {
    cpu: {},
    gpus: Array.from({ length: gpus }, (_, i) => ({ index: i, product, memoryBytes: 80 * 2 ** 30 })),
    architecture: "x86_64",
    hostname: `${id}.lab`,
  },
  resources: { gpus },
  gpuOwners: {},
  sessionGeneration: 1,
  sessionTokenHash: "h",
  lastSeenAt: "2026-11-01T00:09:30.000Z",
  createdAt: "x",
  updatedAt: "x",
  ...over,
});
const ask = (count: number, extra: Partial<PlacementRequest> = {}): PlacementRequest => ({
  gpus: { count },
  queues: [],
  constraints: [],
  ...extra,
});
const ids = (c: ReturnType<typeof choosePlacement>) =>
  c.kind === "candidates" ? c.devices.map((d) => d.device.id) : c.kind;

describe("choosePlacement", () => {
  it("prefers the least loaded device, and gives it the lowest free GPU indices", () => {
    const busy = device("busy", { gpuOwners: { "0": "j1", "1": "j2" } });
    const idle = device("idle");
    const choice = choosePlacement([busy, idle], ask(2), now, 90);
    expect(ids(choice)).toEqual(["idle", "busy"]);
    expect(choice.kind === "candidates" && choice.devices[1]!.gpus).toEqual([2, 3]);
  });

  it("spreads jobs over equally good devices by their spread key, keeping the less good ones last", () => {
    const busy = device("busy", { gpuOwners: { "0": "j1" } });
    const devices = [device("a"), device("b"), device("c"), busy];
    const firsts = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const order = ids(choosePlacement(devices, ask(1, { spreadKey: `job-${i}` }), now, 90)) as string[];
      expect(order).toHaveLength(4);
      expect(order.at(-1)).toBe("busy");
      expect(new Set(order).size).toBe(4);
      firsts.add(order[0]!);
    }
    expect(firsts).toEqual(new Set(["a", "b", "c"]));
    // The same key always gives the same order; no key gives the plain order.
    const once = ids(choosePlacement(devices, ask(1, { spreadKey: "job-7" }), now, 90));
    expect(ids(choosePlacement(devices, ask(1, { spreadKey: "job-7" }), now, 90))).toEqual(once);
    expect(ids(choosePlacement(devices, ask(1), now, 90))).toEqual(["a", "b", "c", "busy"]);
  });

  it("skips offline devices and says when only offline ones could run it", () => {
    const offline = device("off", { lastSeenAt: "2026-11-01T00:00:00.000Z" });
    const choice = choosePlacement([offline], ask(1), now, 90);
    expect(choice).toMatchObject({ kind: "busy" });
    expect(choice.kind === "busy" && choice.message).toContain("offline");
  });

  it("waits when devices that can run it are full", () => {
    const full = device("full", { gpuOwners: { "0": "a", "1": "b", "2": "c", "3": "d" } });
    expect(choosePlacement([full], ask(1), now, 90)).toMatchObject({ kind: "busy" });
  });

  it("says when no device could ever run it (more GPUs than any device has)", () => {
    const choice = choosePlacement([device("a"), device("b", {}, 8)], ask(16), now, 90);
    expect(choice.kind).toBe("never");
    expect(choice.kind === "never" && choice.message).toContain("16 GPUs");
  });

  it("matches GPU type (substring, any case) and memory", () => {
    const a100 = device("a100");
    const t4 = device("t4", {}, 4, "Tesla T4");
    expect(ids(choosePlacement([a100, t4], ask(1, { gpus: { count: 1, type: "a100" } }), now, 90))).toEqual([
      "a100",
    ]);
    expect(ids(choosePlacement([a100, t4], ask(1, { gpus: { count: 1, type: "T4" } }), now, 90))).toEqual([
      "t4",
    ]);
    expect(choosePlacement([a100], ask(1, { gpus: { count: 1, memoryGiB: 100 } }), now, 90).kind).toBe(
      "never",
    );
  });

  it("honours placement constraints on labels and on device attributes", () => {
    const a = device("a", { labels: { zone: "r1", ib: "" } });
    const b = device("b", { labels: { zone: "r2" }, nodeGroup: "training" });
    const pick = (constraints: PlacementRequest["constraints"]) =>
      ids(choosePlacement([a, b], ask(0, { constraints }), now, 90));
    expect(pick([{ name: "zone", value: "r2" }])).toEqual(["b"]);
    expect(pick([{ name: "ib" }])).toEqual(["a"]);
    expect(pick([{ name: "nodeGroup", value: "training" }])).toEqual(["b"]);
    expect(pick([{ name: "hostname", value: "a.lab" }])).toEqual(["a"]);
    expect(pick([{ name: "gpu.product", value: "a100" }]).length).toBe(2);
    expect(pick([{ name: "zone", value: "r3" }])).toBe("never");
  });

  it("restricts to the job's queues (node groups)", () => {
    const a = device("a");
    const b = device("b", { nodeGroup: "training" });
    expect(ids(choosePlacement([a, b], ask(1, { queues: ["training"] }), now, 90))).toEqual(["b"]);
  });

  it("counts GPUs by index from the inventory, or 0..n-1 from the reported count", () => {
    expect(freeGpus(device("a", { gpuOwners: { "1": "x" } }), { count: 1 })).toEqual([0, 2, 3]);
    const countOnly = device("c", { info: { cpu: {}, gpus: [] }, resources: { gpus: 2 } });
    expect(freeGpus(countOnly, { count: 1 })).toEqual([0, 1]);
  });
});

describe("jobNeeds", () => {
  it("reads the Launcher's cpuCount and memory (MB), and a memory quantity with a unit as bytes", () => {
    const limits = (memory: string) => ({
      resourceLimits: [
        { type: "cpuCount", value: "4" },
        { type: "memory", value: memory },
      ],
    });
    expect(jobNeeds(limits("65536"))).toEqual({ cpus: 4, memoryGiB: 64 });
    expect(jobNeeds(limits("64Gi"))).toEqual({ cpus: 4, memoryGiB: 64 });
    expect(jobNeeds(limits("512Mi"))).toEqual({ cpus: 4, memoryGiB: 0.5 });
    expect(jobNeeds(limits("lots"))).toEqual({ cpus: 4, memoryGiB: undefined });
    expect(jobNeeds({ ...limits("1024"), cpus: 2, memoryGiB: 3 })).toEqual({ cpus: 2, memoryGiB: 3 });
  });
});
