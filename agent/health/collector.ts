import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import {
  COMPONENTS,
  EVENT_RETENTION_MS,
  type HealthReport,
  type HealthState,
  SETTABLE_COMPONENTS,
} from "../../shared/domain/gpu-health.ts";
import { privateDir, readJson, writeAtomic } from "../files.ts";
import type { Runner } from "../nvidia-smi.ts";
import { EventLog, REBOOT_EVENT, type StoredEvent, toHealthEvent } from "./events.ts";
import { type GpuRef, type KernelRecord, KmsgReader, kernelEvents, readJournal } from "./kmsg.ts";
import { gpuHealth, groupStates, shouldSendReport, withBootGrace } from "./report.ts";
import { SmiChecks } from "./smi-checks.ts";
import { componentState } from "./smi-evaluators.ts";
import { sxidStates, xidStates } from "./xid.ts";

/** What the agent tells when neither /dev/kmsg nor the journal can be read (§4). */
export const KERNEL_UNREADABLE = "cannot read kernel messages (run as root or add CAP_SYSLOG)";

/** Everything the collector touches, injected (the agent's composition root fills in the real ones). */
export interface HealthCollectorOptions {
  /** Runs nvidia-smi, journalctl and systemctl. */
  run: Runner;
  /** The agent's data dir: `health/events.jsonl` and `health/state.json` live under it. */
  dataDir: string;
  /** Default /dev/kmsg. A regular file is read whole (tests). */
  kmsgPath?: string;
  /** Default /proc/sys/kernel/random/boot_id. */
  bootIdPath?: string;
  /** Default /proc/stat (its `btime`: the boot time). */
  procStatPath?: string;
  /** Default /dev (`nvidia-nvswitch*`: an NVSwitch system). */
  devDir?: string;
  /** Default `() => new Date()`. */
  now?: () => Date;
  /** `--expected-gpus`: gpu-counts is skipped without it. */
  expectedGpus?: number;
  /** `--expected-nvlink-gpus`: GPUs that must have every NVLink up (0 or absent: skipped). */
  expectedNvlinkGpus?: number;
  /** nvidia-smi timeout (default 30 s): past it, the GPU counts as lost. */
  smiTimeoutMs?: number;
}

/** health/state.json: what must survive an agent restart. */
const CollectorState = z.object({
  bootId: z.string().optional(),
  /** The last kmsg sequence number read in `bootId`: a restart re-reads nothing (set-healthy stays purged). */
  kmsgSeq: z.number().optional(),
  journalCursor: z.string().optional(),
  /** Ids of stored events already sent. */
  sent: z.array(z.string()).default([]),
  /** The GPUs of the last answered query, to place Xids while nvidia-smi fails. */
  gpus: z
    .array(z.object({ index: z.number(), uuid: z.string().optional(), busId: z.string().optional() }))
    .default([]),
});
type CollectorState = z.infer<typeof CollectorState>;

const MAX_EVENTS_PER_REPORT = 500;

/**
 * The agent's GPU health collector (specs/gpu-health.md §4): each `collect()` runs one nvidia-smi health
 * query, reads new kernel messages, detects a reboot from the boot id, evolves Xids and SXids, and assembles a
 * `HealthReport` whose `events` are those not sent yet (`markSent` records a successful send). Calls are
 * serialised: a set-healthy never interleaves with a collection.
 */
export class HealthCollector {
  readonly #o: Required<Omit<HealthCollectorOptions, "expectedGpus" | "expectedNvlinkGpus" | "smiTimeoutMs">>;
  readonly #log: EventLog;
  readonly #statePath: string;
  readonly #smi: SmiChecks;
  #queue: Promise<unknown> = Promise.resolve();
  /** Set-healthy since the last send: the next report collected goes out whatever changed. */
  #setHealthyPending = false;
  readonly #afterSetHealthy = new WeakSet<HealthReport>();

  constructor(options: HealthCollectorOptions) {
    this.#o = {
      run: options.run,
      dataDir: options.dataDir,
      kmsgPath: options.kmsgPath ?? "/dev/kmsg",
      bootIdPath: options.bootIdPath ?? "/proc/sys/kernel/random/boot_id",
      procStatPath: options.procStatPath ?? "/proc/stat",
      devDir: options.devDir ?? "/dev",
      now: options.now ?? (() => new Date()),
    };
    this.#log = new EventLog(options.dataDir);
    this.#statePath = join(options.dataDir, "health", "state.json");
    this.#smi = new SmiChecks({
      run: options.run,
      devDir: this.#o.devDir,
      expectedGpus: options.expectedGpus,
      expectedNvlinkGpus: options.expectedNvlinkGpus,
      timeoutMs: options.smiTimeoutMs,
    });
  }

  /** One collection. Throws only when the data dir cannot be written. */
  collect(): Promise<HealthReport> {
    return this.#serial(() => this.#collect());
  }

  /**
   * Set-healthy (a signed control entry): purges the components' events at or before `issuedAt` (an Xid
   * logged after it survives), all settable components when `components` is undefined; the next report is
   * sent whatever changed. Components that cannot be set are ignored (the control plane refuses them).
   */
  setHealthy(components: string[] | undefined, issuedAt: Date): Promise<void> {
    return this.#serial(async () => {
      const settable: readonly string[] = SETTABLE_COMPONENTS;
      const targets = new Set((components ?? settable).filter((c) => settable.includes(c)));
      const cutoff = issuedAt.getTime();
      // Closes set-healthy racing a new Xid: only events at or before issuedAt go, never "up to now".
      await this.#log.remove((e) => targets.has(e.component) && Date.parse(e.time) <= cutoff);
      if (targets.has(COMPONENTS.hwSlowdown)) this.#smi.slowdown.forget(issuedAt);
      this.#setHealthyPending = true;
    });
  }

  /** Whether `report` should go out: see `shouldSendReport`; also right after a set-healthy. */
  shouldSend(
    report: HealthReport,
    lastSent: { report: HealthReport; at: Date } | undefined,
    now: Date,
  ): boolean {
    return this.#afterSetHealthy.has(report) || shouldSendReport(report, lastSent, now);
  }

  /** Records that `report` reached the control plane: its events are not sent again. */
  markSent(report: HealthReport): Promise<void> {
    return this.#serial(async () => {
      const state = await this.#loadState();
      state.sent = [...new Set([...state.sent, ...report.events.map((e) => e.id)])];
      await this.#saveState(state);
      // A report collected before the set-healthy does not discharge it.
      if (this.#afterSetHealthy.has(report)) this.#setHealthyPending = false;
    });
  }

  async #collect(): Promise<HealthReport> {
    const now = this.#o.now();
    const at = now.toISOString();
    const bootId = (await readFile(this.#o.bootIdPath, "utf8").catch(() => "unknown")).trim() || "unknown";
    const bootTimeMs = await this.#bootTime();
    const state = await this.#loadState();
    const fresh: StoredEvent[] = [];
    if (state.bootId !== bootId) {
      if (state.bootId !== undefined && bootTimeMs !== undefined) {
        fresh.push({
          id: `${bootId}:reboot`,
          component: REBOOT_EVENT.component,
          time: new Date(bootTimeMs).toISOString(),
          name: REBOOT_EVENT.name,
          type: "Warning",
          message: `system reboot detected (boot id ${state.bootId} → ${bootId})`,
        });
      }
      state.bootId = bootId;
      state.kmsgSeq = undefined;
      state.journalCursor = undefined;
    }

    const reading = await this.#smi.read(now);
    if (reading.ok) state.gpus = reading.samples.map(({ index, uuid, busId }) => ({ index, uuid, busId }));
    const gpus: GpuRef[] = state.gpus;

    const records = await this.#kernelRecords(state);
    if (records) {
      // Without btime, take the newest record as logged now.
      const base = bootTimeMs ?? now.getTime() - Math.floor((records.at(-1)?.monotonicUs ?? 0) / 1000);
      fresh.push(...kernelEvents(records, { bootId, bootTimeMs: base, gpus }));
    }
    const mismatch = this.#smi.mismatchEvent(reading, bootId, at);
    if (mismatch) fresh.push(mismatch);

    await privateDir(join(this.#o.dataDir, "health"));
    await this.#log.add(fresh, now);
    const cutoff = now.getTime() - EVENT_RETENTION_MS;
    const events = (await this.#log.read()).filter((e) => Date.parse(e.time) >= cutoff);

    const kernelStates: HealthState[] = records
      ? [...xidStates(events, gpus, at), ...sxidStates(events, at)]
      : [COMPONENTS.xid, COMPONENTS.sxid].map((c) =>
          componentState(c, at, "Initializing", KERNEL_UNREADABLE),
        );
    const states = withBootGrace(
      [...kernelStates, ...this.#smi.evaluate(reading, events, now)],
      bootTimeMs,
      now,
    );

    const stored = new Set(events.map((e) => e.id));
    state.sent = state.sent.filter((id) => stored.has(id));
    const sent = new Set(state.sent);
    await this.#saveState(state);
    const report: HealthReport = {
      source: "berth",
      bootId,
      ...(bootTimeMs !== undefined ? { bootTime: new Date(bootTimeMs).toISOString() } : {}),
      collectedAt: at,
      states: groupStates(states),
      events: events
        .filter((e) => !sent.has(e.id))
        .slice(0, MAX_EVENTS_PER_REPORT)
        .map(toHealthEvent),
      gpus: gpuHealth(gpus, states),
    };
    if (this.#setHealthyPending) this.#afterSetHealthy.add(report);
    return report;
  }

  /** New kernel records from /dev/kmsg, else the journal; undefined when neither can be read. */
  async #kernelRecords(state: CollectorState): Promise<KernelRecord[] | undefined> {
    try {
      const reader = new KmsgReader(this.#o.kmsgPath, state.kmsgSeq);
      const records = reader.read();
      state.kmsgSeq = reader.lastSeq;
      return records;
    } catch {
      // EACCES/EPERM (kernel.dmesg_restrict without CAP_SYSLOG), ENOENT: try the journal
    }
    const records = await readJournal(this.#o.run, state.journalCursor);
    if (records && records.length > 0) state.journalCursor = records.at(-1)!.cursor;
    return records;
  }

  async #bootTime(): Promise<number | undefined> {
    const stat = await readFile(this.#o.procStatPath, "utf8").catch(() => "");
    const btime = /^btime\s+(\d+)\s*$/m.exec(stat);
    return btime ? Number(btime[1]) * 1000 : undefined;
  }

  async #loadState(): Promise<CollectorState> {
    const raw = await readJson<unknown>(this.#statePath).catch(() => undefined);
    const parsed = CollectorState.safeParse(raw ?? {});
    return parsed.success ? parsed.data : CollectorState.parse({});
  }

  async #saveState(state: CollectorState): Promise<void> {
    await privateDir(join(this.#o.dataDir, "health"));
    await writeAtomic(this.#statePath, JSON.stringify(state));
  }

  #serial<T>(task: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(task, task);
    this.#queue = next.catch(() => undefined);
    return next;
  }
}
