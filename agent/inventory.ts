import { readFile } from "node:fs/promises";
import { arch, cpus, hostname, networkInterfaces, release, totalmem } from "node:os";
import { detectGpus, type GpuInventory, type Runner } from "./nvidia-smi.ts";
import { dockerImages } from "./runtimes/docker.ts";

export interface Inventory {
  machineInfo: Record<string, unknown>;
  gpuCount: number;
  privateIP?: string;
  /** Container runtime the agent can use ("docker://27.3.1"), if any. */
  containerRuntime?: string;
  gpuProblem?: string;
}

const ARCH: Record<string, string> = { x64: "x86_64", arm64: "aarch64" };

async function osImage(): Promise<string | undefined> {
  try {
    const text = await readFile("/etc/os-release", "utf8");
    return /^PRETTY_NAME="?([^"\n]*)"?/m.exec(text)?.[1];
  } catch {
    return undefined;
  }
}

/** The first non-internal IPv4 address. */
export function primaryAddress(): string | undefined {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  }
  return undefined;
}

/** The Docker server's version when the Docker CLI reaches a daemon; undefined otherwise. */
export async function dockerVersion(runner: Runner): Promise<string | undefined> {
  try {
    const res = await runner("docker", ["version", "--format", "{{.Server.Version}}"]);
    return res.code === 0 && res.stdout.trim() ? res.stdout.trim() : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What this machine is: hostname, OS, kernel, architecture, CPU, memory, addresses, container runtime,
 * GPUs. Shaped as GPUd's machineInfo (so the control plane reads both the same way), with per-GPU detail.
 */
export async function collectInventory(runner: Runner, opts: { useDocker: boolean }): Promise<Inventory> {
  const [image, gpus, docker] = await Promise.all([
    osImage(),
    detectGpus(runner),
    opts.useDocker ? dockerVersion(runner) : Promise.resolve(undefined),
  ]);
  // What a lab's prepuller looks for (specs/labs.md §7).
  const images = docker ? await dockerImages(runner) : undefined;
  const cpu = cpus();
  return {
    gpuCount: gpus.gpus.length,
    privateIP: primaryAddress(),
    containerRuntime: docker ? `docker://${docker}` : undefined,
    gpuProblem: gpus.problem,
    machineInfo: {
      hostname: hostname(),
      osImage: image,
      operatingSystem: process.platform,
      kernelVersion: release(),
      cpuInfo: {
        type: cpu[0]?.model,
        model: cpu[0]?.model,
        architecture: ARCH[arch()] ?? arch(),
        logicalCores: cpu.length,
      },
      memoryInfo: { totalBytes: totalmem() },
      containerRuntimeVersion: docker ? `docker://${docker}` : undefined,
      gpuDriverVersion: gpus.driverVersion,
      cudaVersion: gpus.cudaVersion,
      gpuInfo: gpuInfo(gpus),
      ...(images ? { containerImages: images } : {}),
    },
  };
}

function gpuInfo(inv: GpuInventory) {
  if (inv.gpus.length === 0) return undefined;
  const first = inv.gpus[0]!;
  return {
    product: first.product,
    memory: first.memoryBytes ? `${Math.round(first.memoryBytes / 2 ** 20)}Mi` : undefined,
    gpus: inv.gpus.map((g) => ({
      index: g.index,
      uuid: g.uuid,
      busID: g.busId,
      minorID: String(g.index),
      product: g.product,
      memoryBytes: g.memoryBytes,
      mig: g.mig,
    })),
  };
}
