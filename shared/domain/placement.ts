import type { Device } from "./device.ts";
import { deviceStatus, scheduling } from "./device.ts";
import type { HealthPlacement } from "./gpu-health.ts";
import type { Job } from "./job.ts";
import { parseQuantity } from "./quantity.ts";

/** What a job asks of a device (jobs.md §7), after its profile is applied. */
export interface PlacementRequest {
  gpus: { count: number; type?: string; memoryGiB?: number };
  /** Node groups the job may run in (its queues and its profile's queue); empty = any. */
  queues: string[];
  constraints: { name: string; value?: string }[];
  /**
   * Spreads jobs placed at the same moment over equally good devices (the job id): without it they all
   * pick the same first device and all but one lose the GPU claim and retry.
   */
  spreadKey?: string;
  /** It runs in a container: only devices whose agent can run containers (Docker answers) qualify. */
  container?: boolean;
  /** CPUs and memory (GiB) it holds while it runs. */
  cpus?: number;
  memoryGiB?: number;
  /** How GPU health counts (specs/gpu-health.md §5); absent: Unhealthy GPUs and devices are skipped. */
  health?: HealthPlacement;
}

/** Whether health keeps a whole device from new work: an Unhealthy component that names no GPU. */
export const unhealthyDevice = (d: Device, mode: HealthPlacement = "exclude-unhealthy"): boolean =>
  mode === "exclude-unhealthy" && d.health?.deviceUnhealthy === true;

/** GPU indices health keeps from new work. */
export const unhealthyGpus = (d: Device, mode: HealthPlacement = "exclude-unhealthy"): Set<number> =>
  new Set(mode === "exclude-unhealthy" ? (d.health?.unhealthyGpus ?? []) : []);

/** Whether a device's agent can run containers: it reports a Docker engine that answers. */
export const runsContainers = (d: Device): boolean => (d.info.containerRuntime ?? "").startsWith("docker://");

/** CPUs and memory (GiB) a device has, as its login reported them (resources, else its inventory). */
export const cpuCapacity = (d: Device): number => d.resources.cpu ?? d.info.cpu.logicalCores ?? 0;
export const memoryCapacityGiB = (d: Device): number =>
  (d.resources.memory ?? d.info.memoryBytes ?? 0) / 2 ** 30;

/** Device attributes a placement constraint may name (anything else is a label). */
const ATTRIBUTES: Record<string, (d: Device) => string[]> = {
  "gpu.product": (d) => d.info.gpus.map((g) => g.product ?? ""),
  hostname: (d) => [d.info.hostname ?? ""],
  nodeGroup: (d) => [d.nodeGroup],
  arch: (d) => [d.info.architecture ?? ""],
  region: (d) => [d.info.region ?? ""],
  "device.id": (d) => [d.id],
  "device.name": (d) => [d.name],
};

function constraintHolds(d: Device, c: { name: string; value?: string }): boolean {
  const attribute = ATTRIBUTES[c.name];
  if (attribute) {
    const values = attribute(d);
    if (c.value === undefined) return values.some((v) => v !== "");
    // gpu.product matches a substring, case-insensitively ("A100" matches "NVIDIA A100-SXM4-80GB").
    return c.name === "gpu.product"
      ? values.some((v) => v.toLowerCase().includes(c.value!.toLowerCase()))
      : values.includes(c.value);
  }
  return c.value === undefined ? c.name in d.labels : d.labels[c.name] === c.value;
}

/** The device's GPU indices (from its inventory, or 0..n-1 when it only reported a count). */
export function gpuIndices(d: Device): number[] {
  if (d.info.gpus.length > 0) return d.info.gpus.map((g) => g.index).sort((a, b) => a - b);
  return Array.from({ length: d.resources.gpus }, (_, i) => i);
}

function gpuMatches(d: Device, index: number, req: PlacementRequest["gpus"]): boolean {
  const gpu = d.info.gpus.find((g) => g.index === index);
  if (req.type && !(gpu?.product ?? "").toLowerCase().includes(req.type.toLowerCase())) return false;
  if (req.memoryGiB !== undefined && (gpu?.memoryBytes ?? 0) < req.memoryGiB * 2 ** 30) return false;
  return true;
}

/**
 * Why a device can never take the job, whatever runs on it (undefined: it can, capacity allowing): its node
 * group, the placement constraints, a container runtime, CPUs, memory, GPUs of the right kind.
 */
export function disqualification(d: Device, req: PlacementRequest): string | undefined {
  if (req.queues.length > 0 && !req.queues.includes(d.nodeGroup))
    return `not in node group ${req.queues.join(" or ")}`;
  if (!req.constraints.every((c) => constraintHolds(d, c))) return "not matching its placement constraints";
  if (req.container && !runsContainers(d))
    return "no container runtime (its agent runs processes only, or Docker does not answer)";
  if (req.cpus && cpuCapacity(d) < req.cpus) return `fewer than ${req.cpus} CPUs`;
  if (req.memoryGiB && memoryCapacityGiB(d) < req.memoryGiB)
    return `less than ${req.memoryGiB} GiB of memory`;
  if (gpuIndices(d).filter((i) => gpuMatches(d, i, req.gpus)).length < req.gpus.count)
    return `fewer than ${gpuKind(req.gpus)}`;
  return undefined;
}

/** Whether the device has the CPUs and memory free that the job asks for. */
const roomFor = (d: Device, req: PlacementRequest): boolean =>
  (!req.cpus || cpuCapacity(d) - d.heldCpus >= req.cpus) &&
  (!req.memoryGiB || memoryCapacityGiB(d) - d.heldMemoryGiB >= req.memoryGiB);

const gpuKind = (g: PlacementRequest["gpus"]) =>
  `${g.count} GPU${g.count === 1 ? "" : "s"}${g.type ? ` of type ${g.type}` : ""}${
    g.memoryGiB ? ` with ≥ ${g.memoryGiB} GiB` : ""
  }`;

/** Free GPU indices of the right kind, lowest first. */
export function freeGpus(d: Device, req: PlacementRequest["gpus"], health?: HealthPlacement): number[] {
  const sick = unhealthyGpus(d, health);
  return gpuIndices(d).filter((i) => !(String(i) in d.gpuOwners) && !sick.has(i) && gpuMatches(d, i, req));
}

/** FNV-1a, 32 bits: a cheap, stable spread of ids over a few slots. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

export type PlacementChoice =
  | { kind: "candidates"; devices: { device: Device; gpus: number[] }[] }
  | { kind: "busy"; message: string }
  | { kind: "never"; message: string };

/**
 * Devices that can run the job now, least loaded first (lowest share of GPUs in use, then most free),
 * each with the GPU indices it would get; or why none can: busy now, or none ever could.
 */
export function choosePlacement(
  devices: Device[],
  req: PlacementRequest,
  now: Date,
  ttlSeconds: number,
): PlacementChoice {
  const reasons = new Map<string, number>();
  const qualified = devices.filter((d) => {
    const why = disqualification(d, req);
    if (why) reasons.set(why, (reasons.get(why) ?? 0) + 1);
    return why === undefined;
  });
  const kind = gpuKind(req.gpus);
  if (qualified.length === 0) {
    const why = [...reasons].map(([reason, n]) => `${n} ${n === 1 ? "is" : "are"} ${reason}`).join("; ");
    return {
      kind: "never",
      message: `no device in the workspace can ever run this job (${kind}${req.container ? ", in a container" : ""}${
        req.cpus ? `, ${req.cpus} CPUs` : ""
      }${req.memoryGiB ? `, ${req.memoryGiB} GiB of memory` : ""}${
        req.queues.length ? ` in ${req.queues.join(" or ")}` : ""
      }${req.constraints.length ? ", with its placement constraints" : ""})${
        why ? `: of ${devices.length} device(s), ${why}` : ": there are no devices"
      }; it stays pending until such a device registers`,
    };
  }
  const online = qualified.filter((d) => deviceStatus(d.lastSeenAt, now, ttlSeconds) === "online");
  const eligible = online.filter((d) => scheduling(d) === "eligible");
  const healthy = eligible.filter((d) => !unhealthyDevice(d, req.health));
  const candidates = healthy
    .filter((device) => roomFor(device, req))
    .map((device) => ({ device, free: freeGpus(device, req.gpus, req.health) }))
    .filter((c) => c.free.length >= req.gpus.count)
    .sort((a, b) => {
      const load = (c: { device: Device; free: number[] }) => {
        const total = gpuIndices(c.device).length;
        return total === 0 ? 0 : (total - c.free.length) / total;
      };
      return load(a) - load(b) || b.free.length - a.free.length || a.device.id.localeCompare(b.device.id);
    })
    .map((c) => ({ device: c.device, gpus: c.free.slice(0, req.gpus.count), free: c.free.length }));
  if (candidates.length > 0) {
    // Equally good devices (same load, same free GPUs) at the head of the list: start at one chosen by
    // the spread key, keeping the rest in order behind it.
    const head = candidates[0]!;
    const load = (c: (typeof candidates)[number]) => 1 - c.free / (gpuIndices(c.device).length || 1);
    let ties = 1;
    while (
      ties < candidates.length &&
      load(candidates[ties]!) === load(head) &&
      candidates[ties]!.free === head.free
    )
      ties++;
    const start = req.spreadKey && ties > 1 ? hash(req.spreadKey) % ties : 0;
    const ordered = [
      ...candidates.slice(start, ties),
      ...candidates.slice(0, start),
      ...candidates.slice(ties),
    ];
    return { kind: "candidates", devices: ordered.map(({ device, gpus }) => ({ device, gpus })) };
  }
  return {
    kind: "busy",
    message:
      online.length === 0
        ? `waiting for capacity: the ${qualified.length} device(s) that can run it are offline`
        : eligible.length === 0
          ? `waiting for capacity: the ${online.length} online device(s) that can run it are cordoned or draining`
          : healthy.length === 0
            ? `waiting for capacity: the ${eligible.length} eligible device(s) that can run it are Unhealthy (berth devices health)`
            : `waiting for capacity: no online device has ${kind}${req.cpus ? `, ${req.cpus} CPUs` : ""}${
                req.memoryGiB ? `, ${req.memoryGiB} GiB of memory` : ""
              } free${healthy.some((d) => unhealthyGpus(d, req.health).size > 0) ? " (Unhealthy GPUs are skipped)" : ""}`,
  };
}

/**
 * The CPUs and memory (GiB) a job holds while it runs: its `cpus` / `memoryGiB`, else the Launcher's
 * resource limits `cpuCount` and `memory` (in MB).
 */
export function jobNeeds(job: Pick<Job, "resourceLimits"> & Partial<Pick<Job, "cpus" | "memoryGiB">>): {
  cpus?: number;
  memoryGiB?: number;
} {
  const limit = (type: string) => {
    const l = job.resourceLimits.find((x) => x.type === type);
    const n = Number(l?.value ?? l?.defaultValue);
    return l && Number.isFinite(n) && n > 0 ? n : undefined;
  };
  // The Launcher's memory is in MB; a Kubernetes quantity ("64Gi", what `berth profiles create --limit` shows) is bytes.
  const memoryRaw = job.resourceLimits.find((x) => x.type === "memory");
  const memoryText = memoryRaw?.value ?? memoryRaw?.defaultValue ?? "";
  const memoryMb = /[a-zA-Z]$/.test(memoryText)
    ? (() => {
        const bytes = parseQuantity(memoryText);
        return bytes && bytes > 0 ? bytes / 2 ** 20 : undefined;
      })()
    : limit("memory");
  return {
    cpus: job.cpus ?? limit("cpuCount"),
    memoryGiB: job.memoryGiB ?? (memoryMb !== undefined ? memoryMb / 1024 : undefined),
  };
}
