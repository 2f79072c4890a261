import { COMPONENTS, type HealthState } from "../../shared/domain/gpu-health.ts";
import { REBOOT_EVENT, type StoredEvent } from "./events.ts";
import type { SmiFailure } from "./smi.ts";
import { componentState } from "./smi-evaluators.ts";
import { type FabricState, fabricProblem, type NvlinkGpu } from "./smi-text.ts";

/**
 * The device-wide nvidia components (specs/gpu-health.md §2): their states name no GPU, so an `Unhealthy`
 * one concerns the whole device.
 */

/** The components nvidia-smi backs: all of them fail together when it does. */
export const SMI_COMPONENTS = [
  COMPONENTS.remappedRows,
  COMPONENTS.hwSlowdown,
  COMPONENTS.temperature,
  COMPONENTS.ecc,
  COMPONENTS.power,
  COMPONENTS.clockSpeed,
  COMPONENTS.gpuCounts,
  COMPONENTS.nvlink,
  COMPONENTS.fabricManager,
  COMPONENTS.persistenceMode,
] as const;

/**
 * nvidia-smi gave no answer: every component it backs is `Unhealthy` with the reason; when the GPU is lost
 * (or nvidia-smi hangs) with `REBOOT_SYSTEM`, as GPUd's NVML "GPU lost"/"requires reset".
 */
export const failedStates = (failure: SmiFailure, at: string): HealthState[] =>
  SMI_COMPONENTS.map((c) =>
    componentState(
      c,
      at,
      "Unhealthy",
      failure.reason,
      failure.lost ? { actions: ["REBOOT_SYSTEM"], description: failure.reason } : {},
    ),
  );

const isReboot = (e: StoredEvent) => e.component === REBOOT_EVENT.component && e.name === REBOOT_EVENT.name;

/** The gpu-counts event recorded once per boot while the count is short: reboots between them escalate. */
export const gpuCountMismatchEvent = (bootId: string, at: string, reason: string): StoredEvent => ({
  id: `${bootId}:gpu-counts`,
  component: COMPONENTS.gpuCounts,
  time: at,
  name: "gpu_count_mismatch",
  type: "Warning",
  message: reason,
});

/**
 * `Unhealthy` "nvidia gpu count mismatch (found N, expected M)"; skipped without an expected count. Suggests
 * `REBOOT_SYSTEM`, and `HARDWARE_INSPECTION` once the mismatch was seen again after 2 reboots (GPUd's
 * `EvaluateSuggestedActions`, pkg/eventstore/suggested_actions.go, one mismatch event per boot).
 */
export function gpuCountsState(
  found: number,
  expected: number | undefined,
  history: readonly StoredEvent[],
  at: string,
): HealthState {
  if (!expected)
    return componentState(COMPONENTS.gpuCounts, at, "Healthy", "GPU count thresholds not set, skipping");
  if (found === expected) {
    return componentState(
      COMPONENTS.gpuCounts,
      at,
      "Healthy",
      `nvidia gpu count matching thresholds (${expected})`,
    );
  }
  // A mismatch seen again after a reboot counts once per boot (one mismatch event per boot).
  const reboots = history.filter(isReboot).map((e) => Date.parse(e.time));
  const mismatches = history
    .filter((e) => e.component === COMPONENTS.gpuCounts)
    .map((e) => Date.parse(e.time))
    .sort((a, b) => a - b);
  const afterReboot = mismatches.filter(
    (t, i) => i > 0 && reboots.some((r) => r > mismatches[i - 1]! && r <= t),
  ).length;
  return componentState(
    COMPONENTS.gpuCounts,
    at,
    "Unhealthy",
    `nvidia gpu count mismatch (found ${found}, expected ${expected})`,
    {
      actions: [afterReboot >= 2 ? "HARDWARE_INSPECTION" : "REBOOT_SYSTEM"],
      extra: { found, expected },
    },
  );
}

/**
 * `Unhealthy`, `REBOOT_SYSTEM` when fewer than `required` GPUs have every link up; skipped at 0 (GPUd's
 * default). `status` is the parsed `nvidia-smi nvlink --status`, or why it could not be read.
 */
export function nvlinkState(
  required: number,
  status: { gpus: NvlinkGpu[]; allInactive: boolean } | { failure: string } | undefined,
  at: string,
): HealthState {
  const c = COMPONENTS.nvlink;
  if (!required || !status)
    return componentState(c, at, "Healthy", "nvlink threshold not set (skipped evaluation)");
  if ("failure" in status) return componentState(c, at, "Unhealthy", status.failure);
  const up = (g: NvlinkGpu) => !status.allInactive && g.links.length > 0 && g.links.every((l) => l.active);
  const active = status.gpus.filter(up).length;
  const inactive = status.gpus.filter((g) => !up(g)).map((g) => g.uuid ?? `GPU ${g.index}`);
  if (active >= required) {
    return componentState(
      c,
      at,
      "Healthy",
      `nvlink threshold satisfied: require >=${required} GPUs with all links active; got ${active}`,
    );
  }
  const details = inactive.length > 0 ? ` (inactive nvlinks=${inactive.join(",")})` : "";
  return componentState(
    c,
    at,
    "Unhealthy",
    `nvlink threshold violated: require >=${required} GPUs with all links active; got ${active}${details}`,
    { actions: ["REBOOT_SYSTEM"] },
  );
}

/** What the fabric-manager check read: NVSwitch presence, the service, the GPUs' fabric states. */
export interface FabricReading {
  nvswitch: boolean;
  /** `systemctl is-active nvidia-fabricmanager` answered `active` (undefined: systemctl could not be run). */
  active?: boolean;
  fabric: FabricState[];
}

/** NVSwitch systems only: the service must be active and every GPU's fabric completed/success. */
export function fabricManagerState(reading: FabricReading, at: string): HealthState {
  const c = COMPONENTS.fabricManager;
  if (!reading.nvswitch)
    return componentState(c, at, "Healthy", "NVSwitch not detected, skipping fabric manager check");
  const problems = reading.fabric.map(fabricProblem).filter((p) => p !== undefined);
  const reasons = [
    ...(problems.length > 0 ? [`unhealthy fabric state: ${problems.join(", ")}`] : []),
    ...(reading.active === false ? ["fabric manager found but not active"] : []),
  ];
  if (reasons.length > 0) return componentState(c, at, "Unhealthy", reasons.join("; "));
  return componentState(
    c,
    at,
    "Healthy",
    reading.active
      ? "fabric manager found and active"
      : "fabric manager state not checked (systemctl unavailable)",
  );
}
