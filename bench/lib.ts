/** Small helpers shared by the benchmarks: they print numbers, they never pass or fail on time. */

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const round = (n: number) => Math.round(n * 100) / 100;
export const mib = (bytes: number) => Math.round(bytes / 2 ** 20);

/** The knobs the load benchmarks share, from the environment, with each benchmark's defaults. */
export function loadKnobs(defaults: { agents: number; reservations: number; clients: number; rate: number }) {
  const knob = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
  return {
    engine: process.env.BENCH_ENGINE ?? "sqlite",
    agentsN: knob("BENCH_AGENTS", defaults.agents),
    reservationsN: knob("BENCH_RESERVATIONS", defaults.reservations),
    clientsN: knob("BENCH_CLIENTS", defaults.clients),
    rate: knob("BENCH_RATE", defaults.rate),
    idleSeconds: knob("BENCH_IDLE_SECONDS", 60),
  };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function summarize(samplesMs: number[]) {
  const s = [...samplesMs].sort((a, b) => a - b);
  return {
    n: s.length,
    p50: round(percentile(s, 50)),
    p95: round(percentile(s, 95)),
    p99: round(percentile(s, 99)),
    max: round(s[s.length - 1] ?? Number.NaN),
  };
}

/** Runs `total` calls of `fn` with `concurrency` in flight; returns each call's latency and the wall time. */
export async function load(total: number, concurrency: number, fn: (i: number) => Promise<void>) {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        const t0 = performance.now();
        await fn(i);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return { latencies, wallMs: performance.now() - started };
}

/**
 * Open loop: call `i` (of `total`) is started at `i / rate` seconds, spread over `lanes`, whatever the earlier
 * calls' answers take. Resolves once every call has answered, with the wall time from the first start.
 */
export async function paced(total: number, rate: number, lanes: number, fn: (i: number) => Promise<void>) {
  const started = performance.now();
  await Promise.all(
    Array.from({ length: lanes }, async (_, lane) => {
      const inFlight: Promise<void>[] = [];
      for (let i = lane; i < total; i += lanes) {
        const delay = started + (i / rate) * 1000 - performance.now();
        if (delay > 0) await sleep(delay);
        inFlight.push(fn(i));
      }
      await Promise.all(inFlight);
    }),
  );
  return { wallMs: performance.now() - started };
}

export const table = (rows: Record<string, string | number>[]) => {
  const cols = Object.keys(rows[0] ?? {});
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  const line = (vals: string[]) => `| ${vals.map((v, i) => v.padEnd(widths[i]!)).join(" | ")} |`;
  return [
    line(cols),
    line(widths.map((w) => "-".repeat(w))),
    ...rows.map((r) => line(cols.map((c) => String(r[c])))),
  ].join("\n");
};
