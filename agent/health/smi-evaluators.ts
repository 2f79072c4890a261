import { COMPONENTS, type HealthState, type RepairAction } from "../../shared/domain/gpu-health.ts";
import { pciKey } from "./kmsg.ts";
import type { GpuSample, RemappedRows } from "./smi.ts";
import type { TemperatureLimits } from "./smi-text.ts";

/**
 * GPUd's rules for the nvidia-smi-backed components (specs/gpu-health.md §2), one evaluator per component.
 * Per-GPU components give one state per GPU naming it in `extra_info` (`gpu_uuid`, `gpu_index`,
 * `pci_bus_id`); that is how a GPU's health is found (the worst state naming it). States without `gpu_uuid`
 * concern the whole device.
 */

/** `extra_info` keys naming the GPU a state is about. */
export const GPU_KEYS = { uuid: "gpu_uuid", index: "gpu_index", busId: "pci_bus_id" } as const;

type Health = HealthState["health"];

/** A state of one component, time `at`. */
export const componentState = (
  component: string,
  at: string,
  health: Health,
  reason: string,
  opts: {
    actions?: RepairAction[];
    description?: string;
    extra?: Record<string, string | number | undefined>;
  } = {},
): HealthState => {
  const extra = Object.entries(opts.extra ?? {}).filter(
    (kv): kv is [string, string | number] => kv[1] !== undefined,
  );
  return {
    time: at,
    component,
    name: component,
    health,
    reason,
    ...(opts.actions
      ? {
          suggested_actions: {
            repair_actions: opts.actions,
            ...(opts.description ? { description: opts.description } : {}),
          },
        }
      : {}),
    ...(extra.length > 0 ? { extra_info: Object.fromEntries(extra.map(([k, v]) => [k, String(v)])) } : {}),
  };
};

const gpuName = (s: GpuSample) => s.uuid ?? s.busId ?? `GPU ${s.index}`;

/** One state per GPU; a GPU nvidia-smi reported lost reads `Unhealthy`, `REBOOT_SYSTEM` whatever the rule. */
function perGpu(
  component: string,
  samples: readonly GpuSample[],
  at: string,
  rule: (s: GpuSample) => {
    health: Health;
    reason: string;
    actions?: RepairAction[];
    description?: string;
    extra?: Record<string, string | number | undefined>;
  },
): HealthState[] {
  return samples.map((s) => {
    const names = { [GPU_KEYS.uuid]: s.uuid, [GPU_KEYS.index]: s.index, [GPU_KEYS.busId]: s.busId };
    if (s.lost) {
      return componentState(component, at, "Unhealthy", `${gpuName(s)}: ${s.lost}`, {
        actions: ["REBOOT_SYSTEM"],
        extra: names,
      });
    }
    const r = rule(s);
    return componentState(component, at, r.health, r.reason, { ...r, extra: { ...names, ...r.extra } });
  });
}

/**
 * Pending remapping → `Unhealthy`, `REBOOT_SYSTEM`; failed → `Unhealthy`, `HARDWARE_INSPECTION`, which wins.
 * Without a row remapper (before Ampere) `retired_pages.pending` stands in **[inferred fallback]**.
 */
export function remappedRowsStates(
  samples: readonly GpuSample[],
  rows: readonly RemappedRows[] | undefined,
  at: string,
): HealthState[] {
  const byBus = new Map((rows ?? []).map((r) => [pciKey(r.busId), r]));
  return perGpu(COMPONENTS.remappedRows, samples, at, (s) => {
    const r = byBus.get(pciKey(s.busId));
    const bus = s.busId ?? gpuName(s);
    const extra = { remapped_correctable: r?.correctable, remapped_uncorrectable: r?.uncorrectable };
    const pending = r ? r.pending === true : s.retiredPagesPending === true;
    const issues: string[] = [];
    if (r?.failure) {
      issues.push(
        `${bus} qualifies for RMA (row remapping failed, remapped due to ${r.uncorrectable ?? 0} uncorrectable error(s))`,
      );
    }
    if (pending)
      issues.push(`${bus} needs reset (detected pending ${r ? "row remapping" : "page retirement"})`);
    if (r?.failure) {
      const description = "row remapping failure requires hardware inspection";
      return {
        health: "Unhealthy",
        reason: issues.join(", "),
        actions: ["HARDWARE_INSPECTION"],
        description,
        extra,
      };
    }
    if (pending) {
      const description = "row remapping pending requires GPU reset or system reboot";
      return {
        health: "Unhealthy",
        reason: issues.join(", "),
        actions: ["REBOOT_SYSTEM"],
        description,
        extra,
      };
    }
    return {
      health: "Healthy",
      reason: r ? "no row remapping issue found" : "row remapping not reported",
      extra,
    };
  });
}

/** GPUd's hw-slowdown window. */
export const HW_SLOWDOWN_WINDOW_MS = 10 * 60_000;
/** GPUd's hw-slowdown threshold: slowdown minutes ÷ window minutes. */
export const HW_SLOWDOWN_THRESHOLD = 0.6;

/**
 * Per GPU, the minutes in which a sample saw a HW slowdown (thermal, power brake or other), as GPUd's event
 * bucket. Kept in memory: a restarted agent starts a new window **[inferred]**.
 */
export class SlowdownHistory {
  readonly #minutes = new Map<string, Set<number>>();

  record(samples: readonly GpuSample[], now: Date): void {
    const minute = Math.floor(now.getTime() / 60_000);
    for (const s of samples) {
      if (!(s.hwSlowdown || s.hwThermalSlowdown || s.hwPowerBrakeSlowdown)) continue;
      const key = gpuName(s);
      const set = this.#minutes.get(key) ?? new Set<number>();
      set.add(minute);
      this.#minutes.set(key, set);
    }
    this.forget(new Date(now.getTime() - HW_SLOWDOWN_WINDOW_MS));
  }

  /** Minutes with a slowdown in the window ending at `now`. */
  count(s: GpuSample, now: Date): number {
    const from = Math.floor((now.getTime() - HW_SLOWDOWN_WINDOW_MS) / 60_000);
    return [...(this.#minutes.get(gpuName(s)) ?? [])].filter((m) => m > from).length;
  }

  /** Drops the minutes at or before `until` (set-healthy, and the window's end). */
  forget(until: Date): void {
    const last = Math.floor(until.getTime() / 60_000);
    for (const set of this.#minutes.values()) for (const m of set) if (m <= last) set.delete(m);
  }
}

/** `Unhealthy`, `HARDWARE_INSPECTION` when slowdown minutes ÷ 10 ≥ 0.6 over the last 10 minutes. */
export function hwSlowdownStates(
  samples: readonly GpuSample[],
  history: SlowdownHistory,
  now: Date,
): HealthState[] {
  const window = HW_SLOWDOWN_WINDOW_MS / 60_000;
  return perGpu(COMPONENTS.hwSlowdown, samples, now.toISOString(), (s) => {
    const count = history.count(s, now);
    const ratio = count / window;
    const flags = {
      hw_slowdown: String(s.hwSlowdown ?? "n/a"),
      hw_thermal_slowdown: String(s.hwThermalSlowdown ?? "n/a"),
      hw_power_brake_slowdown: String(s.hwPowerBrakeSlowdown ?? "n/a"),
    };
    // Numbers go to extra_info: a reason that changed every minute would send a report every minute.
    const extra = { ...flags, slowdown_minutes: count, frequency_per_minute: ratio.toFixed(2) };
    if (ratio < HW_SLOWDOWN_THRESHOLD) {
      return {
        health: "Healthy",
        reason:
          count === 0
            ? "no hw slowdown found"
            : "hw slowdown events frequency per minute is less than threshold 0.60 for the last 10m0s",
        extra,
      };
    }
    return {
      health: "Unhealthy",
      reason: "hw slowdown events frequency per minute exceeded threshold 0.60 for the last 10m0s",
      actions: ["HARDWARE_INSPECTION"],
      extra,
    };
  });
}

/**
 * `Degraded` when the core is past its max operating temperature, HBM past the memory max, or the slowdown
 * margin at or under `marginThreshold` (0: off, GPUd's default). Current values go to `extra_info`, so a
 * fluctuating temperature does not change the reason.
 */
export function temperatureStates(
  samples: readonly GpuSample[],
  limits: ReadonlyMap<string, TemperatureLimits>,
  at: string,
  marginThreshold = 0,
): HealthState[] {
  return perGpu(COMPONENTS.temperature, samples, at, (s) => {
    const l = limits.get(pciKey(s.busId) ?? "") ?? {};
    const name = gpuName(s);
    const issues: string[] = [];
    const margin = s.temperatureTlimit;
    if (marginThreshold > 0 && margin !== undefined && margin > 0 && margin <= marginThreshold) {
      issues.push(`${name} has at most ${marginThreshold} °C margin left to slowdown`);
    }
    if (l.gpuMaxOperating && s.temperatureGpu !== undefined && s.temperatureGpu > l.gpuMaxOperating) {
      issues.push(`${name} temperature is exceeding the threshold ${l.gpuMaxOperating} °C`);
    } else if (
      l.gpuMaxOperatingTlimit !== undefined &&
      margin !== undefined &&
      margin < l.gpuMaxOperatingTlimit
    ) {
      issues.push(`${name} temperature is past its max operating T.Limit (${l.gpuMaxOperatingTlimit} °C)`);
    }
    if (
      l.memoryMaxOperating &&
      s.temperatureMemory !== undefined &&
      s.temperatureMemory > l.memoryMaxOperating
    ) {
      issues.push(`${name} HBM temperature is exceeding the threshold ${l.memoryMaxOperating} °C`);
    }
    const extra = {
      temperature_gpu: s.temperatureGpu,
      temperature_memory: s.temperatureMemory,
      temperature_tlimit: s.temperatureTlimit,
      max_operating: l.gpuMaxOperating,
      memory_max_operating: l.memoryMaxOperating,
    };
    return issues.length > 0
      ? { health: "Degraded", reason: `GPU temperature anomalies detected: ${issues.join(", ")}`, extra }
      : { health: "Healthy", reason: "no temperature issue found", extra };
  });
}

/** Metrics only (ECC faults reach health through Xids and remapped rows): `Healthy` while the query answers. */
export const eccStates = (samples: readonly GpuSample[], at: string): HealthState[] =>
  perGpu(COMPONENTS.ecc, samples, at, (s) => ({
    health: "Healthy",
    reason: "no ECC issue found",
    extra: {
      ecc_mode: s.eccMode,
      corrected_volatile: s.eccCorrectedVolatile,
      uncorrected_volatile: s.eccUncorrectedVolatile,
      uncorrected_aggregate: s.eccUncorrectedAggregate,
    },
  }));

/** Metrics only: `Healthy` while the query answers. */
export const powerStates = (samples: readonly GpuSample[], at: string): HealthState[] =>
  perGpu(COMPONENTS.power, samples, at, (s) => ({
    health: "Healthy",
    reason: "no power issue found",
    extra: { power_draw_w: s.powerDraw, power_limit_w: s.powerLimit },
  }));

/** Metrics only: `Healthy` while the query answers. */
export const clockSpeedStates = (samples: readonly GpuSample[], at: string): HealthState[] =>
  perGpu(COMPONENTS.clockSpeed, samples, at, (s) => ({
    health: "Healthy",
    reason: "no clock speed issue found",
    extra: { clocks_sm_mhz: s.clocksSm, clocks_mem_mhz: s.clocksMem },
  }));

/** Any GPU with persistence mode off → `Unhealthy` (unreported: nothing to judge). */
export const persistenceModeStates = (samples: readonly GpuSample[], at: string): HealthState[] =>
  perGpu(COMPONENTS.persistenceMode, samples, at, (s) =>
    s.persistenceMode === false
      ? { health: "Unhealthy", reason: `${gpuName(s)} persistence mode supported but not enabled` }
      : {
          health: "Healthy",
          reason: s.persistenceMode ? "persistence mode enabled" : "persistence mode not reported",
        },
  );
