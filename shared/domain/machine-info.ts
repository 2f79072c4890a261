import { z } from "zod";
import { utf8Length } from "./bounds.ts";
import { DeviceImage, type DeviceInfo, type GpuInfo } from "./device.ts";
import type { FieldIssue } from "./errors.ts";
import { parseQuantity } from "./quantity.ts";

/** A leaf of machine info Berth keeps (a hostname, a version, a GPU's uuid): longer is not one. */
export const MAX_INFO_LEAF_BYTES = 256;
/** GPUs in one machine, at most. */
export const MAX_GPUS = 64;

// Leaves whose type is off are dropped, not fatal: GPUd versions differ in what they send. So are numbers
// no engine could store (NaN, beyond 2^53).
const str = z.string().optional().catch(undefined);
const num = z
  .union([
    z.number(),
    z
      .string()
      .regex(/^[0-9.]+$/)
      .transform(Number),
  ])
  .pipe(z.number().min(0).max(Number.MAX_SAFE_INTEGER))
  .optional()
  .catch(undefined);

const GpudGpu = z.looseObject({
  uuid: str,
  busID: str,
  minorID: str,
  sn: str,
  // Berth's agent adds these. `index` is checked, not dropped, when it is off (machineInfoIssue).
  index: z.unknown().optional(),
  product: str,
  memoryBytes: num,
});

/**
 * GPUd's `machineInfo` (api/v1 MachineInfo), parsed tolerantly: unknown keys pass, leaves of the wrong
 * type are ignored. Berth's agent sends the same shape with a few additions (gpus[].index, product,
 * memoryBytes; cpuInfo.model; memoryInfo.totalBytes; containerRuntime).
 */
export const GpudMachineInfo = z.looseObject({
  /** Berth's agent: the container images it holds (GPUd sends none). */
  containerImages: z.array(DeviceImage).max(500).optional().catch(undefined),
  hostname: str,
  gpudVersion: str,
  gpuDriverVersion: str,
  cudaVersion: str,
  containerRuntimeVersion: str,
  kernelVersion: str,
  osImage: str,
  operatingSystem: str,
  cpuInfo: z
    .looseObject({ type: str, model: str, manufacturer: str, architecture: str, logicalCores: num })
    .optional()
    .catch(undefined),
  memoryInfo: z.looseObject({ totalBytes: num }).optional().catch(undefined),
  gpuInfo: z
    .looseObject({
      product: str,
      manufacturer: str,
      architecture: str,
      memory: str,
      gpus: z.array(GpudGpu).optional().catch(undefined),
    })
    .optional()
    .catch(undefined),
});
export type GpudMachineInfo = z.infer<typeof GpudMachineInfo>;

export interface Whereabouts {
  publicIP?: string;
  privateIP?: string;
  region?: string;
  zone?: string;
  provider?: string;
  providerInstanceId?: string;
}

const known = (v: string | undefined) => (v && v !== "unknown" ? v : undefined);

/** Berth's normalised view of a machine, from GPUd's machineInfo plus the login's network/location fields. */
export function normalizeMachineInfo(raw: GpudMachineInfo, where: Whereabouts = {}): DeviceInfo {
  const gpuMemory = raw.gpuInfo?.memory ? parseQuantity(raw.gpuInfo.memory) : undefined;
  const gpus: GpuInfo[] = (raw.gpuInfo?.gpus ?? []).map((g, i) => ({
    index: indexOf(g, i),
    uuid: g.uuid,
    product: g.product ?? raw.gpuInfo?.product,
    memoryBytes: g.memoryBytes ?? gpuMemory,
    busId: g.busID,
  }));
  return {
    ...(raw.containerImages ? { images: raw.containerImages } : {}),
    hostname: raw.hostname,
    architecture: raw.cpuInfo?.architecture,
    osImage: raw.osImage,
    kernelVersion: raw.kernelVersion,
    cpu: { model: raw.cpuInfo?.model ?? raw.cpuInfo?.type, logicalCores: raw.cpuInfo?.logicalCores },
    memoryBytes: raw.memoryInfo?.totalBytes,
    gpus,
    gpuDriverVersion: raw.gpuDriverVersion,
    cudaVersion: raw.cudaVersion,
    containerRuntime: raw.containerRuntimeVersion,
    publicIP: known(where.publicIP),
    privateIP: known(where.privateIP),
    region: known(where.region),
    zone: known(where.zone),
    provider: known(where.provider),
    providerInstanceId: known(where.providerInstanceId),
  };
}

/** A GPU index is a small whole number (it names the GPU in placement and in CUDA_VISIBLE_DEVICES). */
const MAX_GPU_INDEX = 1023;
const gpuIndex = (n: unknown) =>
  typeof n === "number" && Number.isInteger(n) && n >= 0 && n <= MAX_GPU_INDEX ? n : undefined;
/** A GPU's index: Berth's agent says it; GPUd's minor id stands in for it; else its place in the list. */
const indexOf = (g: z.infer<typeof GpudGpu>, i: number) =>
  gpuIndex(g.index) ?? (g.minorID && /^[0-9]{1,4}$/.test(g.minorID) ? Number(g.minorID) : i);

/**
 * The first part of a machine's info that is too large to keep, if any: a kept leaf (hostname, versions,
 * CPU and GPU names) over 256 bytes, or more than 64 GPUs. Such a report is refused (400 naming the field)
 * rather than cut, so a device's item stays bounded (leaves are copied per GPU).
 */
export function machineInfoIssue(raw: GpudMachineInfo): FieldIssue | undefined {
  const gpus = raw.gpuInfo?.gpus ?? [];
  if (gpus.length > MAX_GPUS)
    return { path: "machineInfo.gpuInfo.gpus", message: `at most ${MAX_GPUS} GPUs, got ${gpus.length}` };
  // The leaves the schema reads (unknown keys pass through untouched and are not kept in the device).
  const pick = (o: Record<string, unknown> | undefined, prefix: string, keys: string[]) =>
    keys.map((k) => [`${prefix}${k}`, o?.[k]] as const);
  const leaves = [
    ...pick(raw, "", ["hostname", "gpudVersion", "gpuDriverVersion", "cudaVersion"]),
    ...pick(raw, "", ["containerRuntimeVersion", "kernelVersion", "osImage", "operatingSystem"]),
    ...pick(raw.cpuInfo, "cpuInfo.", ["type", "model", "manufacturer", "architecture"]),
    ...pick(raw.gpuInfo, "gpuInfo.", ["product", "manufacturer", "architecture", "memory"]),
    ...gpus.flatMap((g, i) => pick(g, `gpuInfo.gpus.${i}.`, ["uuid", "busID", "minorID", "sn", "product"])),
  ];
  for (const [path, v] of leaves) {
    if (typeof v === "string" && utf8Length(v) > MAX_INFO_LEAF_BYTES)
      return { path: `machineInfo.${path}`, message: `must be at most ${MAX_INFO_LEAF_BYTES} bytes` };
  }
  // Indexes name GPUs in placement: each one a whole number in range, no two the same.
  const seen = new Map<number, number>();
  for (const [i, g] of gpus.entries()) {
    if (g.index !== undefined && gpuIndex(g.index) === undefined)
      return {
        path: `machineInfo.gpuInfo.gpus.${i}.index`,
        message: `must be a whole number from 0 to ${MAX_GPU_INDEX}`,
      };
    const index = indexOf(g, i);
    const other = seen.get(index);
    if (other !== undefined)
      return {
        path: `machineInfo.gpuInfo.gpus.${i}.index`,
        message: `GPU index ${index} is also the index of GPU ${other}: each GPU needs its own`,
      };
    seen.set(index, i);
  }
  return undefined;
}
