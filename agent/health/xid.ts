import {
  COMPONENTS,
  type EventType,
  type HealthState,
  type RepairAction,
} from "../../shared/domain/gpu-health.ts";
import { DEFAULT_XID_REBOOT_THRESHOLD, xidTreatment } from "../../shared/domain/xid-catalog.ts";
import { REBOOT_EVENT, type StoredEvent } from "./events.ts";
import { type GpuRef, gpusByPci, pciKey, xidHeadline } from "./kmsg.ts";

/**
 * Xid and SXid health (specs/gpu-health.md §3): GPUd's `evolveHealthyStateWithThresholds`
 * (leptonai/gpud@4a8de33a components/accelerator/nvidia/xid/health_state.go), run per GPU (per NVSwitch for
 * SXids) over the stored events and the reboots between them.
 */

/** One input of the evolution, oldest first. */
export type EvolutionStep =
  | { kind: "reboot" }
  | {
      kind: "error";
      code: number;
      type: EventType;
      repairActions: readonly RepairAction[];
      rebootThreshold: number;
      reason: string;
    };

/** What the evolution ends in. `reason` is undefined when no error stands (cleared by a reboot, or none). */
export interface Evolved {
  health: "Healthy" | "Degraded" | "Unhealthy";
  reason?: string;
  code?: number;
  /** The standing first repair action, when there is one. */
  repairActions?: RepairAction[];
}

const LEVELS = ["Healthy", "Degraded", "Unhealthy"] as const;
const level = (type: EventType) => (type === "Fatal" ? 2 : type === "Critical" ? 1 : 0);

/**
 * GPUd's evolution, step for step: an error of a lower level than the standing one is skipped; otherwise it
 * stands, with its first repair action, which becomes `HARDWARE_INSPECTION` when it is `REBOOT_SYSTEM` and
 * that code has already been followed by `rebootThreshold` reboots. A reboot clears a standing
 * `REBOOT_SYSTEM` or `CHECK_USER_APP_AND_GPU` (not `HARDWARE_INSPECTION`, nor an error with no action) and
 * counts one more reboot for every code seen.
 */
export function evolveHealthyStateWithThresholds(steps: readonly EvolutionStep[]): Evolved {
  let health = 0;
  let actions: RepairAction[] | undefined;
  let last: Extract<EvolutionStep, { kind: "error" }> | undefined;
  const reboots = new Map<number, number>();
  for (const step of steps) {
    if (step.kind === "reboot") {
      if (actions?.[0] === "REBOOT_SYSTEM" || actions?.[0] === "CHECK_USER_APP_AND_GPU") {
        health = 0;
        actions = undefined;
        last = undefined;
      }
      for (const [code, count] of reboots) reboots.set(code, count + 1);
      continue;
    }
    const current = level(step.type);
    if (current < health) continue;
    health = current;
    last = step;
    if (step.repairActions.length === 0) continue;
    let first = step.repairActions[0]!;
    if (first === "REBOOT_SYSTEM") {
      const count = reboots.get(step.code);
      if (count === undefined) reboots.set(step.code, 0);
      else if (count >= step.rebootThreshold) first = "HARDWARE_INSPECTION";
    }
    actions = [first];
  }
  return {
    health: LEVELS[health]!,
    ...(last ? { reason: last.reason, code: last.code } : {}),
    ...(actions ? { repairActions: actions } : {}),
  };
}

const byTime = (a: StoredEvent, b: StoredEvent) =>
  Date.parse(a.time) - Date.parse(b.time) ||
  // A reboot at the boot time precedes that boot's own errors.
  Number(b.name === REBOOT_EVENT.name) - Number(a.name === REBOOT_EVENT.name);

const isReboot = (e: StoredEvent) => e.component === REBOOT_EVENT.component && e.name === REBOOT_EVENT.name;

/** Evolves each group of errors together with every reboot, oldest first. */
function evolveGroups(
  events: readonly StoredEvent[],
  component: string,
  groupOf: (e: StoredEvent) => string,
  step: (e: StoredEvent) => EvolutionStep,
): Map<string, Evolved> {
  const sorted = events.filter((e) => e.component === component || isReboot(e)).sort(byTime);
  const groups = new Set(sorted.filter((e) => !isReboot(e)).map(groupOf));
  const out = new Map<string, Evolved>();
  for (const group of groups) {
    const steps = sorted
      .filter((e) => isReboot(e) || groupOf(e) === group)
      .map((e): EvolutionStep => (isReboot(e) ? { kind: "reboot" } : step(e)));
    out.set(group, evolveHealthyStateWithThresholds(steps));
  }
  return out;
}

const state = (
  component: string,
  name: string,
  at: string,
  evolved: Evolved,
  extra: Record<string, string>,
): HealthState => ({
  time: at,
  component,
  name,
  health: evolved.health,
  reason: evolved.reason ?? "",
  ...(evolved.repairActions ? { suggested_actions: { repair_actions: evolved.repairActions } } : {}),
  ...(Object.keys(extra).length > 0 || evolved.code !== undefined
    ? { extra_info: { ...extra, ...(evolved.code !== undefined ? { code: String(evolved.code) } : {}) } }
    : {}),
});

/**
 * `accelerator-nvidia-error-xid`: one state per GPU with a standing Xid (`extra_info.gpu_uuid` names it; an
 * address no GPU answers to gives a state naming only `pci_bus_id`), or one `Healthy` state when none stands.
 * Warning Xids leave their GPU `Healthy`, with their reason and suggested action shown.
 */
export function xidStates(
  events: readonly StoredEvent[],
  gpus: readonly GpuRef[],
  at: string,
): HealthState[] {
  const byPci = gpusByPci(gpus);
  const byUuid = new Map(gpus.map((g) => [g.uuid, g]));
  const gpuOf = (e: StoredEvent) =>
    (e.gpuUuid ? byUuid.get(e.gpuUuid) : undefined) ?? byPci.get(pciKey(e.pci) ?? "");
  const groupOf = (e: StoredEvent) => gpuOf(e)?.uuid ?? e.gpuUuid ?? pciKey(e.pci) ?? "unknown";
  const evolved = evolveGroups(events, COMPONENTS.xid, groupOf, (e) => {
    const detail = xidTreatment(e.code ?? 0);
    const gpu = gpuOf(e);
    return {
      kind: "error",
      code: detail.code,
      type: detail.type,
      repairActions: detail.repairActions,
      rebootThreshold: detail.rebootThreshold,
      reason: xidHeadline(detail.code, gpu?.uuid ?? e.gpuUuid ?? e.pci ?? "unknown"),
    };
  });
  const states: HealthState[] = [];
  for (const [group, result] of evolved) {
    if (result.reason === undefined) continue;
    const sample = events.find((e) => e.component === COMPONENTS.xid && groupOf(e) === group);
    const gpu = sample && gpuOf(sample);
    const uuid = gpu?.uuid ?? sample?.gpuUuid;
    states.push(
      state(COMPONENTS.xid, "error_xid", at, result, {
        ...(uuid ? { gpu_uuid: uuid } : {}),
        ...(gpu ? { gpu_index: String(gpu.index) } : {}),
        pci_bus_id: gpu?.busId ?? sample?.pci ?? group,
      }),
    );
  }
  return states.length > 0
    ? states
    : [state(COMPONENTS.xid, "error_xid", at, { health: "Healthy", reason: "XIDComponent is healthy" }, {})];
}

/**
 * `accelerator-nvidia-error-sxid`, per NVSwitch, by the same evolution: a `Fatal` SXid is `Unhealthy` with
 * `HARDWARE_INSPECTION`, a `Non-fatal` one a `Warning` with no action **[inferred: GPUd's SXid catalogue not
 * used]**. NVSwitch states name no GPU: they concern the whole device.
 */
export function sxidStates(events: readonly StoredEvent[], at: string): HealthState[] {
  const groupOf = (e: StoredEvent) => e.pci ?? "unknown";
  const evolved = evolveGroups(events, COMPONENTS.sxid, groupOf, (e) => ({
    kind: "error",
    code: e.code ?? 0,
    type: e.type,
    repairActions: e.type === "Fatal" ? ["HARDWARE_INSPECTION"] : [],
    rebootThreshold: DEFAULT_XID_REBOOT_THRESHOLD,
    reason: `SXID ${e.code} (${e.type === "Fatal" ? "Fatal" : "Non-fatal"}) detected on NVSwitch ${e.pci}`,
  }));
  const states: HealthState[] = [];
  for (const [pci, result] of evolved) {
    if (result.reason !== undefined)
      states.push(state(COMPONENTS.sxid, "error_sxid", at, result, { nvswitch_pci: pci }));
  }
  return states.length > 0
    ? states
    : [
        state(
          COMPONENTS.sxid,
          "error_sxid",
          at,
          { health: "Healthy", reason: "SXIDComponent is healthy" },
          {},
        ),
      ];
}
