import type { Runner } from "../nvidia-smi.ts";

/**
 * nvidia-smi as the health source (specs/gpu-health.md §2, §4): one `--query-gpu` with every health field,
 * probed once against the driver, and `--query-remapped-rows`. Parsers are pure; `runSmi` and
 * `probeHealthFields` run nvidia-smi through the injected runner.
 */

/** The health fields of §2, in query order (`clocks_event_reasons.*` is `clocks_throttle_reasons.*` before R535). */
export const HEALTH_QUERY_FIELDS = [
  "index",
  "uuid",
  "pci.bus_id",
  "persistence_mode",
  "temperature.gpu",
  "temperature.memory",
  "temperature.gpu.tlimit",
  "clocks_event_reasons.hw_slowdown",
  "clocks_event_reasons.hw_thermal_slowdown",
  "clocks_event_reasons.hw_power_brake_slowdown",
  "ecc.mode.current",
  "ecc.errors.corrected.volatile.total",
  "ecc.errors.uncorrected.volatile.total",
  "ecc.errors.uncorrected.aggregate.total",
  "retired_pages.pending",
  "power.draw",
  "power.limit",
  "clocks.sm",
  "clocks.mem",
] as const;

/** What an older driver calls a field the current one renamed. */
const OLDER_NAMES: Readonly<Record<string, string>> = {
  "clocks_event_reasons.hw_slowdown": "clocks_throttle_reasons.hw_slowdown",
  "clocks_event_reasons.hw_thermal_slowdown": "clocks_throttle_reasons.hw_thermal_slowdown",
  "clocks_event_reasons.hw_power_brake_slowdown": "clocks_throttle_reasons.hw_power_brake_slowdown",
};

/** The health query for the fields the driver accepts. */
export const healthQueryArgs = (fields: readonly string[]): string[] => [
  `--query-gpu=${fields.join(",")}`,
  "--format=csv,noheader,nounits",
];

/** The row remapper query (Ampere and later). */
export const REMAPPED_ROWS_ARGS = [
  "--query-remapped-rows=gpu_bus_id,remapped_rows.correctable,remapped_rows.uncorrectable,remapped_rows.pending,remapped_rows.failure",
  "--format=csv,noheader",
];

/** nvidia-smi hangs on a wedged GPU: past this it counts as lost **[inferred]**. */
export const SMI_TIMEOUT_MS = 30_000;

const duration = (ms: number) => (ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`);

/** Why nvidia-smi gave no answer; `lost` when the GPU needs a reset (every component then reads `REBOOT_SYSTEM`). */
export interface SmiFailure {
  reason: string;
  lost: boolean;
}

/** nvidia-smi's output, or why there is none (`output`: what it printed, to look for a rejected field). */
export type SmiResult = { ok: true; stdout: string } | { ok: false; failure: SmiFailure; output: string };

const LOST = /GPU is lost|Unable to determine the device handle|GPU requires reset/i;

/** The failure an exit of nvidia-smi stands for, or undefined when it answered. */
export function smiFailure(out: {
  code: number | null;
  stdout: string;
  stderr: string;
}): SmiFailure | undefined {
  if (out.code === 0) return undefined;
  const text = `${out.stdout}\n${out.stderr}`;
  const line =
    text.split("\n").find((l) => LOST.test(l)) ??
    text.split("\n").find((l) => l.trim()) ??
    (out.code === null ? "killed" : `exit code ${out.code}`);
  return { reason: `nvidia-smi failed: ${line.trim()}`, lost: LOST.test(text) };
}

/**
 * Runs nvidia-smi, giving up after `timeoutMs` (the runner is asked to kill it a second later). A missing
 * nvidia-smi, an exit other than 0, a kill or the timeout are failures.
 */
export async function runSmi(run: Runner, args: string[], timeoutMs = SMI_TIMEOUT_MS): Promise<SmiResult> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  try {
    const out = await Promise.race([run("nvidia-smi", args, { timeoutMs: timeoutMs + 1000 }), timedOut]);
    if (out === "timeout") {
      return {
        ok: false,
        failure: { reason: `nvidia-smi did not answer in ${duration(timeoutMs)}`, lost: true },
        output: "",
      };
    }
    const failure = smiFailure(out);
    return failure
      ? { ok: false, failure, output: `${out.stdout}\n${out.stderr}` }
      : { ok: true, stdout: out.stdout };
  } catch (err) {
    return {
      ok: false,
      failure: { reason: `nvidia-smi not runnable: ${(err as Error).message}`, lost: false },
      output: "",
    };
  } finally {
    clearTimeout(timer);
  }
}

/** The field nvidia-smi names in `Field "x" is not a valid field to query.`, if that is its complaint. */
export const rejectedField = (output: string): string | undefined =>
  /Field "([^"]+)" is not a valid field to query/.exec(output)?.[1];

/**
 * The health fields this driver accepts, with the first answer: runs the query, and while the driver rejects
 * a field, switches to the older names when it has one, else drops it. Fails as the query fails otherwise.
 */
export async function probeHealthFields(
  run: Runner,
  timeoutMs = SMI_TIMEOUT_MS,
): Promise<{ fields: string[]; stdout: string } | { failure: SmiFailure }> {
  let fields: string[] = [...HEALTH_QUERY_FIELDS];
  for (let attempt = 0; attempt <= HEALTH_QUERY_FIELDS.length * 2; attempt++) {
    const result = await runSmi(run, healthQueryArgs(fields), timeoutMs);
    if (result.ok) return { fields, stdout: result.stdout };
    const rejected = rejectedField(result.output);
    if (!rejected || !fields.includes(rejected) || rejected === "index") return { failure: result.failure };
    // A renamed field: the driver predates the rename of them all (R535's clocks_event_reasons.*).
    fields = OLDER_NAMES[rejected]
      ? fields.map((f) => OLDER_NAMES[f] ?? f)
      : fields.filter((f) => f !== rejected);
  }
  return { failure: { reason: "nvidia-smi rejects every health field", lost: false } };
}

/** One GPU's health fields from one query. Absent: the driver did not report it. */
export interface GpuSample {
  index: number;
  uuid?: string;
  busId?: string;
  persistenceMode?: boolean;
  temperatureGpu?: number;
  temperatureMemory?: number;
  /** Degrees left before the slowdown limit (`temperature.gpu.tlimit`). */
  temperatureTlimit?: number;
  hwSlowdown?: boolean;
  hwThermalSlowdown?: boolean;
  hwPowerBrakeSlowdown?: boolean;
  eccMode?: string;
  eccCorrectedVolatile?: number;
  eccUncorrectedVolatile?: number;
  eccUncorrectedAggregate?: number;
  retiredPagesPending?: boolean;
  powerDraw?: number;
  powerLimit?: number;
  clocksSm?: number;
  clocksMem?: number;
  /** A field read `[GPU is lost]` or `[GPU requires reset]`. */
  lost?: string;
}

/** nvidia-smi writes `[N/A]`, `[Not Supported]`, `[Unknown Error]`... for values it cannot read. */
const text = (v: string | undefined): string | undefined => {
  const t = v?.trim();
  return !t || /^\[.*\]$/.test(t) || t === "N/A" ? undefined : t;
};
const num = (v: string | undefined): number | undefined => {
  const t = text(v)?.replace(/\s*[A-Za-z%/]+$/, ""); // a unit, when `nounits` was not given
  const n = t === undefined || t === "" ? Number.NaN : Number(t);
  return Number.isFinite(n) ? n : undefined;
};
/** `Active`/`Not Active`, `Enabled`/`Disabled`, `Yes`/`No`, 1/0. */
export const flag = (v: string | undefined): boolean | undefined => {
  const t = text(v)?.toLowerCase();
  if (t === undefined) return undefined;
  if (["active", "enabled", "yes", "true", "1"].includes(t)) return true;
  if (["not active", "disabled", "no", "false", "0"].includes(t)) return false;
  const n = Number(t);
  return Number.isFinite(n) ? n > 0 : undefined;
};

type SampleKey = Exclude<keyof GpuSample, "index" | "lost">;
const CURRENT: Readonly<Record<string, [SampleKey, (v: string | undefined) => unknown]>> = {
  uuid: ["uuid", text],
  "pci.bus_id": ["busId", text],
  persistence_mode: ["persistenceMode", flag],
  "temperature.gpu": ["temperatureGpu", num],
  "temperature.memory": ["temperatureMemory", num],
  "temperature.gpu.tlimit": ["temperatureTlimit", num],
  "clocks_event_reasons.hw_slowdown": ["hwSlowdown", flag],
  "clocks_event_reasons.hw_thermal_slowdown": ["hwThermalSlowdown", flag],
  "clocks_event_reasons.hw_power_brake_slowdown": ["hwPowerBrakeSlowdown", flag],
  "ecc.mode.current": ["eccMode", text],
  "ecc.errors.corrected.volatile.total": ["eccCorrectedVolatile", num],
  "ecc.errors.uncorrected.volatile.total": ["eccUncorrectedVolatile", num],
  "ecc.errors.uncorrected.aggregate.total": ["eccUncorrectedAggregate", num],
  "retired_pages.pending": ["retiredPagesPending", flag],
  "power.draw": ["powerDraw", num],
  "power.limit": ["powerLimit", num],
  "clocks.sm": ["clocksSm", num],
  "clocks.mem": ["clocksMem", num],
};
/** Each query field (current and older names) to the sample key it fills and how it reads. */
const READERS = {
  ...CURRENT,
  ...Object.fromEntries(Object.entries(OLDER_NAMES).map(([current, older]) => [older, CURRENT[current]!])),
};

/** The rows of the health query (`--format=csv,noheader,nounits`), columns in `fields` order. */
export function parseHealthCsv(csv: string, fields: readonly string[]): GpuSample[] {
  const samples: GpuSample[] = [];
  for (const line of csv.split("\n")) {
    if (!line.trim()) continue;
    const values = line.split(",");
    const index = Number(text(values[fields.indexOf("index")]));
    if (!Number.isInteger(index)) continue;
    const sample: GpuSample = { index };
    fields.forEach((field, i) => {
      const lost = /^\[(GPU is lost|GPU requires reset)\]$/i.exec(values[i]?.trim() ?? "");
      if (lost) sample.lost ??= lost[1];
      const reader = READERS[field];
      if (reader) (sample as unknown as Record<string, unknown>)[reader[0]] = reader[1](values[i]);
    });
    samples.push(sample);
  }
  return samples.sort((a, b) => a.index - b.index);
}

/** One GPU's row remapper, from `--query-remapped-rows`. */
export interface RemappedRows {
  busId: string;
  correctable?: number;
  uncorrectable?: number;
  pending?: boolean;
  failure?: boolean;
}

/** Rows of `REMAPPED_ROWS_ARGS` (`Yes`/`No` or counts are both read **[inferred]**). */
export function parseRemappedRows(csv: string): RemappedRows[] {
  const rows: RemappedRows[] = [];
  for (const line of csv.split("\n")) {
    const [busId, correctable, uncorrectable, pending, failure] = line.split(",");
    const bus = text(busId);
    if (!bus || !/^[0-9a-fA-F]+:[0-9a-fA-F]+:[0-9a-fA-F]+/.test(bus)) continue;
    rows.push({
      busId: bus,
      correctable: num(correctable),
      uncorrectable: num(uncorrectable),
      pending: flag(pending),
      failure: flag(failure),
    });
  }
  return rows;
}
