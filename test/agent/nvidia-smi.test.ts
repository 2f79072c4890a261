import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  detectGpus,
  parseCudaVersion,
  parseGpuQuery,
  parseMigList,
  type Runner,
} from "../../agent/nvidia-smi.ts";

const fixture = (name: string) =>
  readFileSync(join(import.meta.dirname, "../fixtures/nvidia-smi", name), "utf8");

describe("parseGpuQuery", () => {
  it("reads no GPUs from empty output", () => {
    expect(parseGpuQuery(fixture("query-0.csv"))).toEqual({ gpus: [], driverVersion: undefined });
  });

  it("reads one GPU, with memory in bytes and the driver version", () => {
    expect(parseGpuQuery(fixture("query-1.csv"))).toEqual({
      driverVersion: "550.54.15",
      gpus: [
        {
          index: 0,
          uuid: "GPU-4a3f6c2e-9d1b-2f7a-8c3e-1b2a3c4d5e6f",
          product: "NVIDIA A10G",
          memoryBytes: 23028 * 2 ** 20,
          busId: "00000000:00:1E.0",
          mig: [],
        },
      ],
    });
  });

  it("reads eight GPUs in index order", () => {
    const { gpus } = parseGpuQuery(fixture("query-8.csv"));
    expect(gpus.map((g) => g.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(new Set(gpus.map((g) => g.uuid)).size).toBe(8);
    expect(gpus.every((g) => g.product === "NVIDIA H100 80GB HBM3")).toBe(true);
  });

  it("treats [N/A] and [Not Supported] as unknown, not as values", () => {
    const { gpus, driverVersion } = parseGpuQuery(fixture("query-na.csv"));
    expect(gpus[0]).toMatchObject({ product: "NVIDIA GeForce RTX 3090", memoryBytes: undefined });
    expect(gpus[1]).toMatchObject({ product: undefined, memoryBytes: 24576 * 2 ** 20, busId: undefined });
    expect(driverVersion).toBe("535.129.03");
  });
});

describe("parseCudaVersion", () => {
  it("reads the CUDA version from nvidia-smi's header", () => {
    expect(parseCudaVersion(fixture("smi-header.txt"))).toBe("12.4");
    expect(parseCudaVersion("no header")).toBeUndefined();
  });
});

describe("parseMigList", () => {
  it("assigns MIG devices to their GPU", () => {
    const mig = parseMigList(fixture("list-mig.txt"));
    expect(mig.get(0)?.map((d) => d.profile)).toEqual(["3g.20gb", "2g.10gb", "1g.5gb"]);
    expect(mig.get(0)?.[0]?.uuid).toBe("MIG-c6d4f1a9-1c6b-5b8c-a8a0-4a8b1c9d7e01");
    expect(mig.get(1)).toBeUndefined();
  });
});

describe("detectGpus", () => {
  const runner =
    (outputs: Record<string, { code: number; stdout: string } | "missing">): Runner =>
    async (_cmd, args) => {
      const key = args[0]?.startsWith("--query-gpu") ? "query" : args[0] === "-L" ? "list" : "plain";
      const out = outputs[key];
      if (out === "missing" || out === undefined)
        throw Object.assign(new Error("not found"), { code: "ENOENT" });
      return { ...out, stderr: "" };
    };

  it("finds no GPUs when nvidia-smi is not installed", async () => {
    expect(await detectGpus(runner({ query: "missing" }))).toEqual({ gpus: [] });
  });

  it("reports why when nvidia-smi fails", async () => {
    const inv = await detectGpus(runner({ query: { code: 9, stdout: fixture("failed.txt") } }));
    expect(inv.gpus).toEqual([]);
    expect(inv.problem).toContain("couldn't communicate with the NVIDIA driver");
  });

  it("combines the query, the CUDA version and MIG devices", async () => {
    const inv = await detectGpus(
      runner({
        query: { code: 0, stdout: fixture("query-mig.csv") },
        plain: { code: 0, stdout: fixture("smi-header.txt") },
        list: { code: 0, stdout: fixture("list-mig.txt") },
      }),
    );
    expect(inv.cudaVersion).toBe("12.4");
    expect(inv.gpus).toHaveLength(2);
    expect(inv.gpus[0]!.mig).toHaveLength(3);
    expect(inv.gpus[1]!.mig).toEqual([]);
  });
});
