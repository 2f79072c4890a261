import { readdir } from "node:fs/promises";
import type { HealthState } from "../../shared/domain/gpu-health.ts";
import type { Runner } from "../nvidia-smi.ts";
import {
  type FabricReading,
  fabricManagerState,
  failedStates,
  gpuCountMismatchEvent,
  gpuCountsState,
  nvlinkState,
} from "./device-checks.ts";
import type { StoredEvent } from "./events.ts";
import {
  type GpuSample,
  healthQueryArgs,
  parseHealthCsv,
  parseRemappedRows,
  probeHealthFields,
  REMAPPED_ROWS_ARGS,
  type RemappedRows,
  runSmi,
  SMI_TIMEOUT_MS,
  type SmiFailure,
} from "./smi.ts";
import {
  clockSpeedStates,
  eccStates,
  hwSlowdownStates,
  persistenceModeStates,
  powerStates,
  remappedRowsStates,
  SlowdownHistory,
  temperatureStates,
} from "./smi-evaluators.ts";
import {
  FULL_QUERY_ARGS,
  NVLINK_STATUS_ARGS,
  type NvlinkGpu,
  parseFabricQuery,
  parseNvlinkStatus,
  parseTemperatureQuery,
  TEMPERATURE_QUERY_ARGS,
  type TemperatureLimits,
} from "./smi-text.ts";

/** How the nvidia-smi checks run. */
export interface SmiChecksOptions {
  run: Runner;
  /** Where `nvidia-nvswitch*` device nodes show an NVSwitch system **[inferred]**. */
  devDir: string;
  expectedGpus?: number;
  expectedNvlinkGpus?: number;
  /** Degrees of slowdown margin under which temperature reads `Degraded` (0: off). */
  temperatureMarginThreshold?: number;
  timeoutMs?: number;
}

/** One minute's nvidia-smi readings, or why there are none. */
export type SmiReading =
  | {
      ok: true;
      samples: GpuSample[];
      rows?: RemappedRows[];
      limits: ReadonlyMap<string, TemperatureLimits>;
      nvlink?: { gpus: NvlinkGpu[]; allInactive: boolean } | { failure: string };
      fabric: FabricReading;
    }
  | { ok: false; failure: SmiFailure };

/**
 * The nvidia-smi-backed components: probes the field list once (again after a failure), reads the static
 * temperature limits once, and keeps the per-minute HW slowdown history.
 */
export class SmiChecks {
  readonly slowdown = new SlowdownHistory();
  readonly #o: SmiChecksOptions;
  #fields: string[] | undefined;
  #limits: Map<string, TemperatureLimits> | undefined;

  constructor(options: SmiChecksOptions) {
    this.#o = options;
  }

  /** Runs the health query and the commands the enabled checks need. */
  async read(now: Date): Promise<SmiReading> {
    const timeout = this.#o.timeoutMs ?? SMI_TIMEOUT_MS;
    let csv: string;
    if (this.#fields) {
      const out = await runSmi(this.#o.run, healthQueryArgs(this.#fields), timeout);
      if (!out.ok) {
        this.#fields = undefined; // a driver update may change the fields: probe again
        return { ok: false, failure: out.failure };
      }
      csv = out.stdout;
    } else {
      const probed = await probeHealthFields(this.#o.run, timeout);
      if ("failure" in probed) return { ok: false, failure: probed.failure };
      this.#fields = probed.fields;
      csv = probed.stdout;
    }
    const samples = parseHealthCsv(csv, this.#fields);
    this.slowdown.record(samples, now);
    const rows = await runSmi(this.#o.run, REMAPPED_ROWS_ARGS, timeout);
    if (!this.#limits) {
      const temp = await runSmi(this.#o.run, TEMPERATURE_QUERY_ARGS, timeout);
      if (temp.ok) this.#limits = parseTemperatureQuery(temp.stdout);
    }
    return {
      ok: true,
      samples,
      ...(rows.ok ? { rows: parseRemappedRows(rows.stdout) } : {}),
      limits: this.#limits ?? new Map(),
      nvlink: await this.#nvlink(timeout),
      fabric: await this.#fabric(timeout),
    };
  }

  /** The gpu-counts event to record while the count is short. */
  mismatchEvent(reading: SmiReading, bootId: string, at: string): StoredEvent | undefined {
    const expected = this.#o.expectedGpus;
    if (!reading.ok || !expected || reading.samples.length === expected) return undefined;
    return gpuCountMismatchEvent(bootId, at, gpuCountsState(reading.samples.length, expected, [], at).reason);
  }

  /** Every nvidia-smi-backed state; `history` is the stored events (reboots and gpu-count mismatches). */
  evaluate(reading: SmiReading, history: readonly StoredEvent[], now: Date): HealthState[] {
    const at = now.toISOString();
    if (!reading.ok) return failedStates(reading.failure, at);
    const s = reading.samples;
    return [
      ...remappedRowsStates(s, reading.rows, at),
      ...hwSlowdownStates(s, this.slowdown, now),
      ...temperatureStates(s, reading.limits, at, this.#o.temperatureMarginThreshold ?? 0),
      ...eccStates(s, at),
      ...powerStates(s, at),
      ...clockSpeedStates(s, at),
      gpuCountsState(s.length, this.#o.expectedGpus, history, at),
      nvlinkState(this.#o.expectedNvlinkGpus ?? 0, reading.nvlink, at),
      fabricManagerState(reading.fabric, at),
      ...persistenceModeStates(s, at),
    ];
  }

  async #nvlink(timeout: number): Promise<Extract<SmiReading, { ok: true }>["nvlink"]> {
    if (!this.#o.expectedNvlinkGpus) return undefined;
    const out = await runSmi(this.#o.run, NVLINK_STATUS_ARGS, timeout);
    // "all links are inActive" may come with a non-zero exit: it is an answer, not a failure.
    const text = out.ok ? out.stdout : out.output;
    if (out.ok || /all links are inactive/i.test(text)) return parseNvlinkStatus(text);
    return { failure: `nvidia-smi nvlink --status: ${out.failure.reason}` };
  }

  async #fabric(timeout: number): Promise<FabricReading> {
    const entries = await readdir(this.#o.devDir).catch(() => [] as string[]);
    if (!entries.some((e) => e.startsWith("nvidia-nvswitch"))) return { nvswitch: false, fabric: [] };
    let active: boolean | undefined;
    try {
      const out = await this.#o.run("systemctl", ["is-active", "nvidia-fabricmanager"], {
        timeoutMs: 10_000,
      });
      active = out.stdout.trim() === "active";
    } catch {
      active = undefined; // no systemctl
    }
    const full = await runSmi(this.#o.run, FULL_QUERY_ARGS, timeout);
    return { nvswitch: true, active, fabric: full.ok ? parseFabricQuery(full.stdout) : [] };
  }
}
