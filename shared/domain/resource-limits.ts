import type { z } from "zod";
import { BerthError, ErrorCode, invalidRequest } from "./errors.ts";
import type { ResourceLimit as ResourceLimitSchema } from "./job.ts";
import { parseQuantity } from "./quantity.ts";

type ResourceLimit = z.infer<typeof ResourceLimitSchema>;

/**
 * The Launcher's resource limits (specs/launcher-extras.md §4), as Berth enforces them: `cpuCount` (cores,
 * `docker run --cpus`), `memory` and `memorySwap` (MB, taken as MiB as Docker's `m` is; a Kubernetes quantity
 * with a unit, "64Gi", is bytes). `cpuTime` is a Launcher type Berth does not enforce.
 */
export const ENFORCED_LIMITS = ["cpuCount", "memory", "memorySwap"] as const;
export const LIMIT_TYPES = [...ENFORCED_LIMITS, "cpuTime"] as const;

/** The most CPUs a container may be given (the reservation's bound), and Docker's least memory. */
const MAX_CPUS = 1024;
const MIN_MEMORY_MIB = 6;

/** What Docker (or ECS, or Kubernetes) is told: CPUs, memory, and memory plus swap (`--memory-swap`), in MiB. */
export interface ContainerLimits {
  cpus?: number;
  memoryMiB?: number;
  memorySwapMiB?: number;
}

/** An amount of a limit type: cores for `cpuCount` ("2", "0.5", "500m"), MiB for memory types. */
function amount(type: string, text: string): number | undefined {
  const t = text.trim();
  if (type === "cpuCount") {
    const n = parseQuantity(t);
    return n !== undefined && n > 0 ? n : undefined;
  }
  // A plain number is MB (the Launcher's unit); a quantity with a unit is bytes.
  const n = /[a-zA-Z]$/.test(t) ? (parseQuantity(t) ?? Number.NaN) / 2 ** 20 : Number(t);
  return Number.isFinite(n) && n > 0 ? Math.round(n) : undefined;
}

/**
 * A job's limits: the request's over its profile's, type by type. The profile's `maxValue` stays the bound
 * (a request cannot raise it by sending its own).
 */
export function mergeLimits(request: ResourceLimit[], profile: ResourceLimit[] = []): ResourceLimit[] {
  const merged = new Map<string, ResourceLimit>(profile.map((l) => [l.type, l]));
  for (const r of request) {
    const p = merged.get(r.type);
    merged.set(r.type, { ...p, ...r, ...(p?.maxValue !== undefined ? { maxValue: p.maxValue } : {}) });
  }
  return [...merged.values()].map(
    (l) => Object.fromEntries(Object.entries(l).filter(([, v]) => v !== undefined)) as ResourceLimit,
  );
}

/** Limits read, and what is wrong with them (each a 400 at submit). */
export function readLimits(limits: ResourceLimit[]): { limits: ContainerLimits; problems: BerthError[] } {
  const out: ContainerLimits = {};
  const problems: BerthError[] = [];
  const bad = (i: number, message: string) =>
    problems.push(invalidRequest(message, [{ path: `resourceLimits.${i}`, message }]));
  let swap: number | undefined;
  for (const [i, l] of limits.entries()) {
    if (l.type === "cpuTime") {
      problems.push(
        new BerthError(
          ErrorCode.RequestNotSupported,
          "resource limit cpuTime is not supported: Berth enforces cpuCount, memory and memorySwap; bound a job's run time with maxDuration",
          [{ path: `resourceLimits.${i}.type`, message: "not supported" }],
        ),
      );
      continue;
    }
    if (!(ENFORCED_LIMITS as readonly string[]).includes(l.type)) {
      problems.push(
        new BerthError(
          ErrorCode.RequestNotSupported,
          `resource limit type ${l.type} is not one Berth knows; valid: ${ENFORCED_LIMITS.join(", ")}`,
          [{ path: `resourceLimits.${i}.type`, message: "unknown type" }],
        ),
      );
      continue;
    }
    const text = l.value ?? l.defaultValue;
    if (text === undefined) continue; // only a bound: nothing to apply
    const unit = l.type === "cpuCount" ? "CPUs" : "MB";
    const n = amount(l.type, text);
    if (n === undefined) {
      bad(i, `resource limit ${l.type}: "${text}" is not a positive amount of ${unit}`);
      continue;
    }
    if (l.maxValue !== undefined) {
      const max = amount(l.type, l.maxValue);
      if (max === undefined)
        bad(i, `resource limit ${l.type}: maxValue "${l.maxValue}" is not a positive amount`);
      else if (n > max) bad(i, `resource limit ${l.type}: ${text} is above its maxValue ${l.maxValue}`);
    }
    if (l.type === "cpuCount") {
      if (n > MAX_CPUS) bad(i, `resource limit cpuCount: ${text} is more than ${MAX_CPUS} CPUs`);
      else out.cpus = n;
    } else if (n < MIN_MEMORY_MIB)
      bad(i, `resource limit ${l.type}: ${text} is below Docker's ${MIN_MEMORY_MIB} MB`);
    else if (l.type === "memory") out.memoryMiB = n;
    else swap = n;
  }
  if (swap !== undefined) {
    if (out.memoryMiB === undefined) {
      const i = limits.findIndex((l) => l.type === "memorySwap");
      bad(i, "resource limit memorySwap needs a memory limit too (swap is on top of memory)");
    } else out.memorySwapMiB = out.memoryMiB + swap;
  }
  return { limits: out, problems };
}

/** The limits a container is run with; ones that do not read (stored before they were checked) are left out. */
export const containerLimits = (limits: ResourceLimit[]): ContainerLimits => readLimits(limits).limits;
