import { describe, expect, it } from "vitest";
import { GpudMachineInfo, normalizeMachineInfo } from "../../shared/domain/machine-info.ts";

describe("normalizeMachineInfo", () => {
  it("maps GPUd's machineInfo and the login's addresses onto a device's info", () => {
    const raw = GpudMachineInfo.parse({
      hostname: "gpu-7",
      gpudVersion: "v0.5.1",
      gpuDriverVersion: "550.54.15",
      cudaVersion: "12.4",
      containerRuntimeVersion: "containerd://1.7.2",
      kernelVersion: "6.5.0",
      osImage: "Ubuntu 22.04",
      cpuInfo: { type: "Intel Xeon", architecture: "x86_64", logicalCores: 96 },
      memoryInfo: { totalBytes: 1_000_000_000 },
      gpuInfo: {
        product: "NVIDIA A100-SXM4-80GB",
        memory: "80Gi",
        gpus: [
          { uuid: "GPU-a", busID: "0000:07:00.0", minorID: "3" },
          { uuid: "GPU-b", busID: "0000:0a:00.0" },
        ],
      },
      diskInfo: { blockDevices: [] },
    });
    const info = normalizeMachineInfo(raw, { publicIP: "3.3.3.3", region: "unknown", provider: "aws" });
    expect(info).toMatchObject({
      hostname: "gpu-7",
      architecture: "x86_64",
      cpu: { model: "Intel Xeon", logicalCores: 96 },
      memoryBytes: 1_000_000_000,
      gpuDriverVersion: "550.54.15",
      cudaVersion: "12.4",
      containerRuntime: "containerd://1.7.2",
      publicIP: "3.3.3.3",
      provider: "aws",
      gpus: [
        {
          index: 3,
          uuid: "GPU-a",
          product: "NVIDIA A100-SXM4-80GB",
          memoryBytes: 80 * 2 ** 30,
          busId: "0000:07:00.0",
        },
        { index: 1, uuid: "GPU-b" },
      ],
    });
    expect(info.region).toBeUndefined();
  });

  it("ignores fields of the wrong type instead of failing the login", () => {
    const raw = GpudMachineInfo.parse({
      hostname: 42,
      cpuInfo: "fast",
      gpuInfo: { gpus: "many" },
      memoryInfo: { totalBytes: "1024" },
    });
    const info = normalizeMachineInfo(raw);
    expect(info).toMatchObject({ hostname: undefined, gpus: [], memoryBytes: 1024 });
  });

  it("prefers what Berth's agent reports per GPU", () => {
    const raw = GpudMachineInfo.parse({
      gpuInfo: {
        product: "A10",
        gpus: [{ index: 0, uuid: "GPU-x", product: "NVIDIA A10G", memoryBytes: 24e9 }],
      },
    });
    expect(normalizeMachineInfo(raw).gpus).toEqual([
      { index: 0, uuid: "GPU-x", product: "NVIDIA A10G", memoryBytes: 24e9, busId: undefined },
    ]);
  });
});
