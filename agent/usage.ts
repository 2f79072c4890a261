import { readdir, readFile } from "node:fs/promises";
import { cpus } from "node:os";
import type { UsageSample } from "../shared/domain/usage.ts";
import type { Runner } from "./nvidia-smi.ts";

/** Clock ticks per second of /proc's CPU times (`getconf CLK_TCK`: 100 on every Linux Berth runs on). */
const CLK_TCK = 100;

/** CPU seconds and memory of a set of processes, read from /proc. */
export interface ProcUsage {
  /** utime + stime of the live processes, in seconds. */
  cpuSeconds: number;
  /** The same plus the reaped children's (cutime + cstime). */
  cpuTime: number;
  rssMiB: number;
  vmMiB: number;
  pids: number[];
}

/**
 * The fields of `/proc/<pid>/stat` after the command (which may hold spaces and parentheses): index 0 is
 * field 3 (state), so field N is at N - 3.
 */
export function statFields(text: string): string[] | undefined {
  const close = text.lastIndexOf(")");
  return close < 0
    ? undefined
    : text
        .slice(close + 2)
        .trim()
        .split(/\s+/);
}

/** `VmRSS` and `VmSize` of `/proc/<pid>/status`, in MiB. */
export function statusMemory(text: string): { rssMiB: number; vmMiB: number } {
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? 0);
  return { rssMiB: kb("VmRSS") / 1024, vmMiB: kb("VmSize") / 1024 };
}

/** Every process of process group `pgid` (a process job's: its leader started it with setsid). */
export async function processGroupUsage(pgid: number, proc = "/proc"): Promise<ProcUsage> {
  const out: ProcUsage = { cpuSeconds: 0, cpuTime: 0, rssMiB: 0, vmMiB: 0, pids: [] };
  for (const name of await readdir(proc).catch(() => [] as string[])) {
    if (!/^\d+$/.test(name)) continue;
    const [stat, status] = await Promise.all([
      readFile(`${proc}/${name}/stat`, "utf8").catch(() => ""),
      readFile(`${proc}/${name}/status`, "utf8").catch(() => ""),
    ]);
    const f = statFields(stat);
    if (!f || Number(f[5 - 3]) !== pgid) continue;
    const [utime, stime, cutime, cstime] = [14, 15, 16, 17].map((n) => Number(f[n - 3]) / CLK_TCK);
    out.cpuSeconds += utime! + stime!;
    out.cpuTime += utime! + stime! + cutime! + cstime!;
    const mem = statusMemory(status);
    out.rssMiB += mem.rssMiB;
    out.vmMiB += mem.vmMiB;
    out.pids.push(Number(name));
  }
  return out;
}

/** `docker stats --no-stream --format {{json .}}`: `CPUPerc` "12.50%" (100% is one core), `MemUsage` "41.5MiB / 7.7GiB". */
export function parseDockerStats(text: string): { cores?: number; rssMiB?: number } {
  try {
    const s = JSON.parse(text.trim().split("\n")[0] ?? "") as { CPUPerc?: string; MemUsage?: string };
    const cpu = Number.parseFloat(s.CPUPerc ?? "");
    const mem = /^([\d.]+)\s*([KMGT]i?B|B)/.exec(s.MemUsage ?? "");
    const scale: Record<string, number> = {
      B: 2 ** -20,
      KiB: 2 ** -10,
      MiB: 1,
      GiB: 2 ** 10,
      TiB: 2 ** 20,
      kB: 1e3 / 2 ** 20,
      KB: 1e3 / 2 ** 20,
      MB: 1e6 / 2 ** 20,
      GB: 1e9 / 2 ** 20,
      TB: 1e12 / 2 ** 20,
    };
    return {
      ...(Number.isFinite(cpu) ? { cores: cpu / 100 } : {}),
      ...(mem ? { rssMiB: Number(mem[1]) * (scale[mem[2]!] ?? 1) } : {}),
    };
  } catch {
    return {};
  }
}

/** Per-GPU use from `nvidia-smi --query-gpu=index,utilization.gpu,memory.used --format=csv,noheader,nounits`. */
export function parseGpuUse(csv: string, gpus: number[]): NonNullable<UsageSample["gpus"]> {
  const out: NonNullable<UsageSample["gpus"]> = [];
  for (const line of csv.split("\n")) {
    const [index, util, mem] = line.split(",").map((x) => x.trim());
    const i = Number(index);
    if (!line.trim() || !Number.isInteger(i) || !gpus.includes(i)) continue;
    const u = Number(util);
    const m = Number(mem);
    out.push({
      index: i,
      ...(util && Number.isFinite(u) ? { utilizationPercent: u } : {}),
      ...(mem && Number.isFinite(m) ? { memoryUsedMiB: m } : {}),
    });
  }
  return out;
}

/** What to sample: a process job's group, or a container by name; its GPUs and CPU limit. */
export type SampleTarget =
  | { kind: "process"; pgid: number; gpus: number[]; cpuLimit?: number }
  | { kind: "container"; name: string; gpus: number[]; cpuLimit?: number };

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

/**
 * Samples workloads for sampling leases (specs/launcher-extras.md §1): CPU share since the previous sample
 * of the same workload, cumulative CPU time, memory, and the job's GPUs. Fields it cannot measure are left
 * out, never sent as 0.
 */
export class UsageSampler {
  readonly #last = new Map<string, { cpuSeconds: number; at: number }>();
  readonly #run: Runner;
  readonly #proc: string;
  readonly #cores: number;

  constructor(opts: { run: Runner; proc?: string; cores?: number }) {
    this.#run = opts.run;
    this.#proc = opts.proc ?? "/proc";
    this.#cores = opts.cores ?? cpus().length;
  }

  async sample(id: string, target: SampleTarget, now = Date.now()): Promise<UsageSample> {
    const cores = target.cpuLimit ?? this.#cores;
    let cpuSeconds: number | undefined;
    const s: UsageSample = { sampledAt: new Date(now).toISOString() };
    if (target.kind === "process") {
      const u = await processGroupUsage(target.pgid, this.#proc);
      if (u.pids.length > 0) {
        cpuSeconds = u.cpuSeconds;
        s.cpuTime = round(u.cpuTime);
        s.residentMemory = round(u.rssMiB);
        s.virtualMemory = round(u.vmMiB);
      }
    } else {
      const res = await this.#run("docker", [
        "stats",
        "--no-stream",
        "--format",
        "{{json .}}",
        target.name,
      ]).catch(() => undefined);
      const d = res?.code === 0 ? parseDockerStats(res.stdout) : {};
      if (d.cores !== undefined) {
        s.cpuCores = round(d.cores);
        s.cpuPercent = round(Math.min(100, (d.cores / cores) * 100));
      }
      if (d.rssMiB !== undefined) s.residentMemory = round(d.rssMiB);
    }
    const prev = this.#last.get(id);
    if (cpuSeconds !== undefined) {
      this.#last.set(id, { cpuSeconds, at: now });
      if (prev && now > prev.at) {
        const perSecond = Math.max(0, cpuSeconds - prev.cpuSeconds) / ((now - prev.at) / 1000);
        s.cpuCores = round(perSecond);
        s.cpuPercent = round(Math.min(100, (perSecond / cores) * 100));
      }
    }
    if (target.gpus.length) {
      const res = await this.#run("nvidia-smi", [
        "--query-gpu=index,utilization.gpu,memory.used",
        "--format=csv,noheader,nounits",
      ]).catch(() => undefined);
      if (res?.code === 0) s.gpus = parseGpuUse(res.stdout, target.gpus);
    }
    return s;
  }

  /** Forgets a workload (its lease ended, or it did). */
  forget(id: string): void {
    this.#last.delete(id);
  }
}

export interface SamplingDeps {
  sampler: UsageSampler;
  /** What the reservation runs now; undefined: nothing (it ended). */
  target: (id: string) => SampleTarget | undefined;
  post: (id: string, samples: UsageSample[]) => Promise<void>;
  log: { warn: (msg: string, fields?: Record<string, unknown>) => void };
}

/**
 * The agent's sampling leases: one timer per sampled reservation, every `intervalSeconds` until the lease's
 * `until` (a renewal extends it), posting each sample at once. A workload that is gone ends its lease.
 */
export class SamplingLeases {
  readonly #leases = new Map<
    string,
    { until: number; intervalMs: number; timer?: ReturnType<typeof setTimeout> }
  >();
  readonly #d: SamplingDeps;

  constructor(d: SamplingDeps) {
    this.#d = d;
  }

  /** Starts or extends sampling of `id` (a verified `sample` control). */
  lease(id: string, intervalSeconds: number, until: string): void {
    const end = Date.parse(until);
    if (!Number.isFinite(end) || end <= Date.now()) return;
    const current = this.#leases.get(id);
    if (current) {
      current.until = Math.max(current.until, end);
      current.intervalMs = intervalSeconds * 1000;
      return;
    }
    const lease: { until: number; intervalMs: number; timer?: ReturnType<typeof setTimeout> } = {
      until: end,
      intervalMs: intervalSeconds * 1000,
    };
    this.#leases.set(id, lease);
    void this.#tick(id);
  }

  async #tick(id: string): Promise<void> {
    const lease = this.#leases.get(id);
    if (!lease) return;
    try {
      const target = this.#d.target(id);
      if (!target || Date.now() > lease.until) return this.end(id);
      await this.#d.post(id, [await this.#d.sampler.sample(id, target)]);
    } catch (err) {
      this.#d.log.warn("could not send a resource-use sample", {
        reservation: id,
        error: (err as Error).message,
      });
    }
    if (this.#leases.get(id) !== lease) return;
    lease.timer = setTimeout(() => void this.#tick(id), lease.intervalMs);
    lease.timer.unref?.();
  }

  end(id: string): void {
    const lease = this.#leases.get(id);
    if (lease?.timer) clearTimeout(lease.timer);
    this.#leases.delete(id);
    this.#d.sampler.forget(id);
  }

  /** Reservations being sampled now (tests). */
  active(): string[] {
    return [...this.#leases.keys()];
  }

  stop(): void {
    for (const id of [...this.#leases.keys()]) this.end(id);
  }
}
