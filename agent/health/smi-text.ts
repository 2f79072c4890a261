import { pciKey } from "./kmsg.ts";

/**
 * Parsers of nvidia-smi's human-readable outputs the health checks need: `-q -d TEMPERATURE`, `-q` (its
 * `Fabric` block) and `nvlink --status`. Formats from NVIDIA's documented output and GPUd's testdata; not yet
 * checked on every driver generation **[inferred]**.
 */

/** Arguments of the outputs parsed here. */
export const TEMPERATURE_QUERY_ARGS = ["-q", "-d", "TEMPERATURE"];
export const FULL_QUERY_ARGS = ["-q"];
export const NVLINK_STATUS_ARGS = ["nvlink", "--status"];

/** One GPU's temperature limits, °C. */
export interface TemperatureLimits {
  /** "GPU Max Operating Temp" (absolute). */
  gpuMaxOperating?: number;
  /** "Memory Max Operating Temp" (absolute). */
  memoryMaxOperating?: number;
  /** "GPU Max Operating T.Limit Temp" (R535+: relative to the T.Limit, compared with `temperature.gpu.tlimit`). */
  gpuMaxOperatingTlimit?: number;
}

/** `GPU 00000000:18:00.0` block headers of `nvidia-smi -q`. */
const GPU_HEADER = /^GPU\s+([0-9a-fA-F]+:[0-9a-fA-F]+:[0-9a-fA-F]+\.[0-9a-fA-F]+)\s*$/;
const FIELD = /^(\s*)([^:]+?)\s*:\s*(.*?)\s*$/;
const celsius = (v: string) => {
  const m = /^(-?\d+(?:\.\d+)?)\s*C$/.exec(v.trim());
  return m ? Number(m[1]) : undefined;
};

/** Temperature limits per GPU, keyed by `pciKey` of the block's bus id. */
export function parseTemperatureQuery(text: string): Map<string, TemperatureLimits> {
  const limits = new Map<string, TemperatureLimits>();
  let current: TemperatureLimits | undefined;
  for (const line of text.split("\n")) {
    const header = GPU_HEADER.exec(line);
    if (header) {
      current = {};
      limits.set(pciKey(header[1])!, current);
      continue;
    }
    const field = FIELD.exec(line);
    if (!current || !field) continue;
    const value = celsius(field[3]!);
    if (value === undefined) continue;
    const name = field[2]!;
    if (name === "GPU Max Operating Temp") current.gpuMaxOperating = value;
    else if (name === "Memory Max Operating Temp") current.memoryMaxOperating = value;
    else if (name === "GPU Max Operating T.Limit Temp") current.gpuMaxOperatingTlimit = value;
  }
  return limits;
}

/** One GPU's fabric registration (NVSwitch systems), from the `Fabric` block of `nvidia-smi -q`. */
export interface FabricState {
  busId: string;
  state?: string;
  status?: string;
}

/** Fabric states per GPU; GPUs without a `Fabric` block (older drivers, no NVSwitch) are left out. */
export function parseFabricQuery(text: string): FabricState[] {
  const out: FabricState[] = [];
  let bus: string | undefined;
  let fabric: FabricState | undefined;
  let indent = -1;
  for (const line of text.split("\n")) {
    const header = GPU_HEADER.exec(line);
    if (header) {
      bus = header[1];
      fabric = undefined;
      continue;
    }
    const section = /^(\s+)(\S[^:]*?)\s*$/.exec(line);
    if (section) {
      // A heading: "Fabric" opens the block, a heading as shallow as it closes it.
      if (section[2] === "Fabric" && bus) {
        fabric = { busId: bus };
        indent = section[1]!.length;
        out.push(fabric);
      } else if (fabric && section[1]!.length <= indent) {
        fabric = undefined;
      }
      continue;
    }
    const field = FIELD.exec(line);
    if (!fabric || !field) continue;
    if (field[1]!.length <= indent) {
      fabric = undefined;
      continue;
    }
    if (field[2] === "State" && fabric.state === undefined) fabric.state = field[3];
    else if (field[2] === "Status" && fabric.status === undefined) fabric.status = field[3];
  }
  return out;
}

/** A fabric state other than completed/success (N/A: not reported, not a failure). */
export const fabricProblem = (f: FabricState): string | undefined => {
  const bad = (v: string | undefined, ok: string) => v !== undefined && v !== "N/A" && v.toLowerCase() !== ok;
  return bad(f.state, "completed") || bad(f.status, "success")
    ? `${f.busId} fabric state ${f.state ?? "N/A"}, status ${f.status ?? "N/A"}`
    : undefined;
};

/** One GPU's links from `nvidia-smi nvlink --status`. */
export interface NvlinkGpu {
  index: number;
  uuid?: string;
  links: { link: number; active: boolean }[];
}

/**
 * GPUs and their links: `Link 3: 26.562 GB/s` is up, `Link 3: <inactive>` is not. "all links are inActive"
 * (GPUd issue #1085) means no GPU has a link up.
 */
export function parseNvlinkStatus(text: string): { gpus: NvlinkGpu[]; allInactive: boolean } {
  const gpus: NvlinkGpu[] = [];
  for (const line of text.split("\n")) {
    const gpu = /^GPU (\d+):.*?(?:\(UUID:\s*([^)\s]+)\))?\s*$/.exec(line);
    if (gpu) {
      gpus.push({ index: Number(gpu[1]), uuid: gpu[2], links: [] });
      continue;
    }
    const link = /^\s+Link (\d+):\s*(.*?)\s*$/.exec(line);
    if (link && gpus.length > 0) {
      gpus.at(-1)!.links.push({ link: Number(link[1]), active: /GB\/s/.test(link[2]!) });
    }
  }
  return { gpus, allInactive: /all links are inactive/i.test(text) };
}
