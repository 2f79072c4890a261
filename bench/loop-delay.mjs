/**
 * Preloaded into `berth server` by the benchmarks (NODE_OPTIONS=--import, see bench/servers.ts): the server's
 * event-loop delay, which it does not report itself. On SIGUSR2 it writes the delay histogram since the last
 * signal (nanoseconds, with the 10 ms sampling interval in it) to BENCH_LOOP_DELAY_FILE and starts over.
 */
import { writeFileSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { isMainThread } from "node:worker_threads";

const file = process.env.BENCH_LOOP_DELAY_FILE;
if (file && isMainThread) {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  process.on("SIGUSR2", () => {
    writeFileSync(
      file,
      JSON.stringify({ p50: delay.percentile(50), p99: delay.percentile(99), max: delay.max }),
    );
    delay.reset();
  });
}
