import {
  COMPONENTS,
  type ComponentHealthStates,
  type GpuHealth,
  type HealthReport,
  type HealthState,
  INITIALIZING_AFTER_BOOT_MS,
  worstOf,
} from "../../shared/domain/gpu-health.ts";
import type { GpuRef } from "./kmsg.ts";
import { GPU_KEYS } from "./smi-evaluators.ts";

/**
 * Assembling a health report from component states (specs/gpu-health.md §4): the boot grace period, states
 * grouped per component, per-GPU health, and when a report is worth sending.
 */

/** Sent at least this often, even when nothing changed. */
export const HEALTH_RESEND_MS = 10 * 60_000;

/**
 * Within 5 minutes of boot, non-healthy states read `Initializing` (reason and actions kept), as GPUd's
 * `pkg/session/health_states.go`; a boot time in the future or unknown changes nothing.
 */
export function withBootGrace(
  states: HealthState[],
  bootTimeMs: number | undefined,
  now: Date,
): HealthState[] {
  if (bootTimeMs === undefined || bootTimeMs <= 0) return states;
  const since = now.getTime() - bootTimeMs;
  if (since < 0 || since >= INITIALIZING_AFTER_BOOT_MS) return states;
  return states.map((s) => (s.health === "Healthy" ? s : { ...s, health: "Initializing" }));
}

/** States grouped per component, in the order of `COMPONENTS`, then any other. */
export function groupStates(states: readonly HealthState[]): ComponentHealthStates[] {
  const order: string[] = Object.values(COMPONENTS);
  const groups = new Map<string, HealthState[]>();
  for (const s of states) {
    const c = s.component ?? s.name;
    groups.set(c, [...(groups.get(c) ?? []), s]);
  }
  const rank = (c: string) => (order.includes(c) ? order.indexOf(c) : order.length);
  return [...groups.entries()]
    .sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b))
    .map(([component, list]) => ({ component, states: list.slice(0, 64) }));
}

/**
 * Each GPU's health: the worst of the states whose `extra_info.gpu_uuid` (else `gpu_index`) names it; `components` lists those
 * not `Healthy`. States naming no GPU are left out here: they concern the whole device, which the server
 * reads from `states`.
 */
export function gpuHealth(gpus: readonly GpuRef[], states: readonly HealthState[]): GpuHealth[] {
  return gpus.map((g) => {
    // By UUID; a GPU whose UUID nvidia-smi could not read ([N/A], [GPU is lost]) by its index.
    const mine = states.filter((s) =>
      g.uuid !== undefined
        ? s.extra_info?.[GPU_KEYS.uuid] === g.uuid
        : s.extra_info?.[GPU_KEYS.uuid] === undefined && s.extra_info?.gpu_index === String(g.index),
    );
    const sick = mine.filter((s) => s.health !== "Healthy");
    return {
      index: g.index,
      ...(g.uuid ? { uuid: g.uuid } : {}),
      health: worstOf(mine.map((s) => s.health)) as GpuHealth["health"],
      components: [...new Set(sick.map((s) => s.component ?? s.name))],
    };
  });
}

/** What a change is measured on: every state's health, reason and repair actions, and the boot. */
export function fingerprint(report: HealthReport): string {
  const rows = report.states.flatMap((c) =>
    c.states.map((s) =>
      JSON.stringify([
        c.component,
        s.name,
        s.extra_info?.[GPU_KEYS.uuid] ?? s.extra_info?.[GPU_KEYS.busId] ?? "",
        s.health,
        s.reason,
        s.suggested_actions?.repair_actions ?? [],
      ]),
    ),
  );
  return JSON.stringify([report.bootId, ...rows.sort()]);
}

/** Send when nothing was sent yet, the fingerprint changed, there are new events, or 10 minutes passed. */
export function shouldSendReport(
  report: HealthReport,
  lastSent: { report: HealthReport; at: Date } | undefined,
  now: Date,
): boolean {
  if (!lastSent) return true;
  if (report.events.length > 0) return true;
  if (now.getTime() - lastSent.at.getTime() >= HEALTH_RESEND_MS) return true;
  return fingerprint(report) !== fingerprint(lastSent.report);
}
