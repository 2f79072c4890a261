import { z } from "zod";

/**
 * GPU health in GPUd's model (specs/gpu-health.md §1): per-component health states evaluated from events.
 * The JSON shapes are GPUd's (`api/v1/types.go`), so a report from Berth's agent and one forwarded from
 * GPUd read alike.
 */

/** GPUd's `HealthStateType`. */
export const HEALTH_STATES = ["Healthy", "Unhealthy", "Degraded", "Initializing"] as const;
export type HealthStateType = (typeof HEALTH_STATES)[number];

/** A device's summary also knows `Unknown`: online but silent for 15 minutes (§5). */
export const DEVICE_HEALTH_STATES = [...HEALTH_STATES, "Unknown"] as const;
export type DeviceHealthState = (typeof DEVICE_HEALTH_STATES)[number];

/** Worst first: a device's state is its worst component's (§5). */
const SEVERITY: Record<DeviceHealthState, number> = {
  Unhealthy: 4,
  Degraded: 3,
  Initializing: 2,
  Unknown: 1,
  Healthy: 0,
};
export const worse = (a: DeviceHealthState, b: DeviceHealthState): DeviceHealthState =>
  SEVERITY[b] > SEVERITY[a] ? b : a;
export const worstOf = (states: DeviceHealthState[]): DeviceHealthState =>
  states.reduce<DeviceHealthState>(worse, "Healthy");

/** GPUd's `RepairActionType`. */
export const REPAIR_ACTIONS = [
  "IGNORE_NO_ACTION_REQUIRED",
  "REBOOT_SYSTEM",
  "HARDWARE_INSPECTION",
  "CHECK_USER_APP_AND_GPU",
] as const;
export type RepairAction = (typeof REPAIR_ACTIONS)[number];

/** GPUd's `EventType`. */
export const EVENT_TYPES = ["Unknown", "Info", "Warning", "Critical", "Fatal"] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const SuggestedActions = z.object({
  description: z.string().max(2000).optional(),
  repair_actions: z.array(z.enum(REPAIR_ACTIONS)).max(8).default([]),
});
export type SuggestedActions = z.infer<typeof SuggestedActions>;

/** GPUd's `HealthState`. `raw_output` is at most 4096 bytes, as GPUd's. */
export const HealthState = z.object({
  time: z.iso.datetime({ offset: true }).optional(),
  component: z.string().max(128).optional(),
  component_type: z.string().max(64).optional(),
  name: z.string().max(128),
  run_mode: z.string().max(64).optional(),
  health: z.enum(HEALTH_STATES),
  reason: z.string().max(2000).default(""),
  error: z.string().max(2000).optional(),
  suggested_actions: SuggestedActions.optional(),
  extra_info: z.record(z.string().max(128), z.string().max(1000)).optional(),
  raw_output: z.string().max(4096).optional(),
});
export type HealthState = z.infer<typeof HealthState>;

/** GPUd's `ComponentHealthStates` (`GET /v1/states` answers a list of these). */
export const ComponentHealthStates = z.object({
  component: z.string().min(1).max(128),
  states: z.array(HealthState).max(64),
});
export type ComponentHealthStates = z.infer<typeof ComponentHealthStates>;

/** GPUd's `Event`, with the id that makes it idempotent (boot id + kmsg sequence for kernel events). */
export const HealthEvent = z.object({
  id: z.string().min(1).max(200),
  component: z.string().min(1).max(128),
  time: z.iso.datetime({ offset: true }),
  name: z.string().max(128),
  type: z.enum(EVENT_TYPES),
  message: z.string().max(2000).default(""),
});
export type HealthEvent = z.infer<typeof HealthEvent>;

/** One GPU's health: the worst of the components that name it. GPUs are keyed by UUID (§7). */
export const GpuHealth = z.object({
  index: z.number().int().min(0),
  uuid: z.string().max(128).optional(),
  health: z.enum(HEALTH_STATES),
  components: z.array(z.string().max(128)).max(64).default([]),
});
export type GpuHealth = z.infer<typeof GpuHealth>;

export const MAX_REPORT_BYTES = 256 * 1024;
export const MAX_REPORT_COMPONENTS = 64;
export const MAX_REPORT_EVENTS = 500;

/** `POST /api/v1/agent/health` (§4). */
export const HealthReport = z.object({
  source: z.enum(["berth", "gpud"]),
  bootId: z.string().max(64),
  bootTime: z.iso.datetime({ offset: true }).optional(),
  collectedAt: z.iso.datetime({ offset: true }),
  states: z.array(ComponentHealthStates).max(MAX_REPORT_COMPONENTS),
  events: z.array(HealthEvent).max(MAX_REPORT_EVENTS).default([]),
  gpus: z.array(GpuHealth).max(64).default([]),
});
export type HealthReport = z.infer<typeof HealthReport>;

/** The device item's summary (§5). */
export const DeviceHealthSummary = z.object({
  state: z.enum(DEVICE_HEALTH_STATES),
  reason: z.string().max(2000),
  source: z.enum(["berth", "gpud"]),
  updatedAt: z.iso.datetime(),
  /** Indices of GPUs placement skips. */
  unhealthyGpus: z.array(z.number().int()).default([]),
  degradedGpus: z.array(z.number().int()).default([]),
  /** An `Unhealthy` component that names no GPU: placement skips the whole device. */
  deviceUnhealthy: z.boolean().default(false),
});
export type DeviceHealthSummary = z.infer<typeof DeviceHealthSummary>;

/** Components whose health an operator may set back (GPUd's `HealthSettable`, of those Berth collects). */
export const SETTABLE_COMPONENTS = [
  "accelerator-nvidia-error-xid",
  "accelerator-nvidia-error-sxid",
  "accelerator-nvidia-hw-slowdown",
  "accelerator-nvidia-remapped-rows",
  "accelerator-nvidia-gpu-counts",
] as const;

/** Component names Berth's agent reports (§2), GPUd's exactly. */
export const COMPONENTS = {
  xid: "accelerator-nvidia-error-xid",
  sxid: "accelerator-nvidia-error-sxid",
  remappedRows: "accelerator-nvidia-remapped-rows",
  hwSlowdown: "accelerator-nvidia-hw-slowdown",
  temperature: "accelerator-nvidia-temperature",
  ecc: "accelerator-nvidia-ecc",
  power: "accelerator-nvidia-power",
  clockSpeed: "accelerator-nvidia-clock-speed",
  gpuCounts: "accelerator-nvidia-gpu-counts",
  nvlink: "accelerator-nvidia-nvlink",
  fabricManager: "accelerator-nvidia-fabric-manager",
  persistenceMode: "accelerator-nvidia-persistence-mode",
  docker: "docker",
} as const;

/** Non-healthy states read `Initializing` for 5 minutes after boot, as GPUd's (§1). */
export const INITIALIZING_AFTER_BOOT_MS = 5 * 60_000;
/** Events are kept 3 days on the agent (GPUd's `DefaultRetention`). */
export const EVENT_RETENTION_MS = 3 * 24 * 3600_000;
/** An online device silent this long reads `Unknown`. */
export const HEALTH_SILENCE_MS = 15 * 60_000;

/**
 * The device's summary of a report (§5): the worst component's state and reason; GPUs Unhealthy or Degraded;
 * and whether an Unhealthy component names no GPU (placement then skips the whole device).
 */
export function summarize(report: HealthReport, updatedAt: string): DeviceHealthSummary {
  let state: DeviceHealthState = "Healthy";
  let reason = "";
  const byUuid = new Map(report.gpus.filter((g) => g.uuid).map((g) => [g.uuid!, g.index]));
  const indices = new Set(report.gpus.map((g) => g.index));
  /** The GPU a state names (Berth's agent: `extra_info.gpu_uuid`, else `gpu_index`), if it is one reported. */
  const gpuOf = (s: HealthState): number | undefined => {
    const uuid = s.extra_info?.gpu_uuid;
    if (uuid !== undefined) return byUuid.get(uuid);
    const index = Number(s.extra_info?.gpu_index);
    return s.extra_info?.gpu_index !== undefined && indices.has(index) ? index : undefined;
  };
  const unhealthy = new Set(report.gpus.filter((g) => g.health === "Unhealthy").map((g) => g.index));
  const degraded = new Set(report.gpus.filter((g) => g.health === "Degraded").map((g) => g.index));
  let deviceUnhealthy = false;
  for (const c of report.states) {
    for (const s of c.states) {
      const gpu = gpuOf(s);
      if (s.health === "Unhealthy") {
        // A state that names no reported GPU is the whole device's (gpu-counts, fabric manager, a lost GPU).
        if (gpu === undefined) deviceUnhealthy = true;
        else unhealthy.add(gpu);
      } else if (s.health === "Degraded" && gpu !== undefined) degraded.add(gpu);
      if (worse(state, s.health) !== state) {
        state = s.health;
        reason = `${c.component}: ${s.reason || s.health}`;
      }
    }
  }
  const sorted = (x: Set<number>) => [...x].sort((a, b) => a - b);
  return {
    state,
    reason,
    source: report.source,
    updatedAt,
    unhealthyGpus: sorted(unhealthy),
    degradedGpus: sorted(degraded).filter((i) => !unhealthy.has(i)),
    deviceUnhealthy,
  };
}

/** The summary as read now: `Unknown` when an online device's last report is older than 15 minutes. */
export function effectiveHealth(
  summary: DeviceHealthSummary | undefined,
  online: boolean,
  now: Date,
): DeviceHealthSummary | undefined {
  if (!summary || !online) return summary;
  if (now.getTime() - Date.parse(summary.updatedAt) <= HEALTH_SILENCE_MS) return summary;
  return { ...summary, state: "Unknown", reason: `no health report since ${summary.updatedAt}` };
}

/** How placement treats health (§5): skip Unhealthy GPUs and devices, or ignore health. */
export const HEALTH_PLACEMENT = ["exclude-unhealthy", "ignore"] as const;
export type HealthPlacement = (typeof HEALTH_PLACEMENT)[number];
export const HealthSettings = z.object({
  placement: z.enum(HEALTH_PLACEMENT).default("exclude-unhealthy"),
});
export type HealthSettings = z.infer<typeof HealthSettings>;
