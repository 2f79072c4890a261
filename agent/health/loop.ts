import { access } from "node:fs/promises";
import { join } from "node:path";
import type { HealthReport } from "../../shared/domain/gpu-health.ts";
import type { Logger } from "../../shared/ports/logger.ts";
import { sleep } from "../backoff.ts";
import { privateDir, readJson, writeAtomic } from "../files.ts";

/** Where the agent's health comes from: its own collectors, or a GPUd beside it. */
export interface HealthSource {
  collect(): Promise<HealthReport>;
  shouldSend(report: HealthReport, last: { report: HealthReport; at: Date } | undefined, now: Date): boolean;
  markSent(report: HealthReport): Promise<void>;
  setHealthy(components: string[] | undefined, issuedAt: Date): Promise<void>;
}

/** How often the agent collects GPU health (specs/gpu-health.md §4: one nvidia-smi query a minute). */
export const HEALTH_EVERY_MS = 60_000;

/**
 * Collects GPU health every minute (or at once when woken: a set-healthy) and sends the report when
 * `shouldSend` says so; a report that did not get through is sent again at the next round.
 */
export async function healthLoop(o: {
  collector: HealthSource;
  send: (report: HealthReport) => Promise<void>;
  log: Logger;
  signal: AbortSignal;
  /** Resolves early when aborted (a set-healthy wants a report now). */
  wake: () => AbortSignal;
  everyMs?: number;
  /** A 401 (the device is gone): the loop stops. */
  revoked: (err: unknown) => boolean;
}): Promise<void> {
  let last: { report: HealthReport; at: Date } | undefined;
  let lastState = "";
  while (!o.signal.aborted) {
    try {
      const report = await o.collector.collect();
      if (o.collector.shouldSend(report, last, new Date())) {
        await o.send(report);
        await o.collector.markSent(report);
        last = { report, at: new Date() };
        const state = worstState(report);
        if (state !== lastState) o.log.info("GPU health", { state, reason: reasonOf(report) });
        lastState = state;
      }
    } catch (err) {
      if (o.revoked(err)) return;
      o.log.warn("could not collect or send GPU health", { error: (err as Error).message });
    }
    await sleep(o.everyMs ?? HEALTH_EVERY_MS, AbortSignal.any([o.signal, o.wake()]));
  }
}

const ORDER = ["Healthy", "Initializing", "Degraded", "Unhealthy"];
const worstState = (r: HealthReport) =>
  r.states
    .flatMap((c) => c.states.map((s) => s.health))
    .reduce((a, b) => (ORDER.indexOf(b) > ORDER.indexOf(a) ? b : a), "Healthy");
const reasonOf = (r: HealthReport) =>
  r.states
    .flatMap((c) => c.states.filter((s) => s.health !== "Healthy").map((s) => `${c.component}: ${s.reason}`))
    .slice(0, 3)
    .join("; ");

/** Whether `nvidia-smi` is on the PATH (health is on by default only then). */
export async function hasNvidiaSmi(path = process.env.PATH ?? ""): Promise<boolean> {
  for (const dir of path.split(":").filter(Boolean)) {
    if (
      await access(join(dir, "nvidia-smi")).then(
        () => true,
        () => false,
      )
    )
      return true;
  }
  return false;
}

/**
 * The GPU count gpu-counts expects: `--expected-gpus`, else the count the agent found at its first start
 * (stored in the data dir, so a GPU that falls off later shows as a mismatch).
 */
export async function expectedGpus(
  dataDir: string,
  given: number | undefined,
  found: number,
): Promise<number> {
  if (given !== undefined) return given;
  const path = join(dataDir, "health", "expected-gpus.json");
  const stored = await readJson<{ gpus?: number }>(path).catch(() => undefined);
  if (typeof stored?.gpus === "number") return stored.gpus;
  await privateDir(join(dataDir, "health"));
  await writeAtomic(path, JSON.stringify({ gpus: found }));
  return found;
}
