import { z } from "zod";
import type { DeviceInfo, GpuInfo } from "./device.ts";
import { parseQuantity } from "./quantity.ts";

// Leaves whose type is off are dropped, not fatal: GPUd versions differ in what they send.
const str = z.string().optional().catch(undefined);
const num = z
  .union([
    z.number(),
    z
      .string()
      .regex(/^[0-9.]+$/)
      .transform(Number),
  ])
  .optional()
  .catch(undefined);

const GpudGpu = z.looseObject({
  uuid: str,
  busID: str,
  minorID: str,
  sn: str,
  // Berth's agent adds these.
  index: num,
  product: str,
  memoryBytes: num,
});

/**
 * GPUd's `machineInfo` (api/v1 MachineInfo), parsed tolerantly: unknown keys pass, leaves of the wrong
 * type are ignored. Berth's agent sends the same shape with a few additions (gpus[].index, product,
 * memoryBytes; cpuInfo.model; memoryInfo.totalBytes; containerRuntime).
 */
export const GpudMachineInfo = z.looseObject({
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
    index: g.index ?? (g.minorID && /^[0-9]+$/.test(g.minorID) ? Number(g.minorID) : i),
    uuid: g.uuid,
    product: g.product ?? raw.gpuInfo?.product,
    memoryBytes: g.memoryBytes ?? gpuMemory,
    busId: g.busID,
  }));
  return {
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
