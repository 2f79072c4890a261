import type { Command } from "commander";
import type { UsageSample } from "../../shared/domain/usage.ts";
import type { ApiClient } from "../client.ts";
import { type GlobalOptions, outputFormat } from "../context.ts";
import { followSse } from "../sse.ts";

/** One line of `berth jobs top`: CPU, CPU time, memory, and each GPU. */
export function topLine(s: UsageSample): string {
  const n = (v: number | undefined, unit: string, digits = 1) =>
    v === undefined ? "-" : `${v.toFixed(digits)}${unit}`;
  const gpus = (s.gpus ?? [])
    .map((g) => `gpu${g.index} ${n(g.utilizationPercent, "%", 0)} ${n(g.memoryUsedMiB, "MiB", 0)}`)
    .join("  ");
  return [
    new Date(s.sampledAt).toISOString().slice(11, 19),
    `cpu ${n(s.cpuPercent, "%")}`,
    `(${n(s.cpuCores, " cores", 2)})`,
    `time ${n(s.cpuTime, "s")}`,
    `rss ${n(s.residentMemory, "MiB", 0)}`,
    ...(gpus ? [gpus] : []),
  ].join("  ");
}

/**
 * `berth jobs top <job>`: follows the job's resource use (specs/launcher-extras.md §5) until it ends, one
 * line per sample (JSON lines with -o json); exits 0 when the job is over.
 */
export function jobsTopCommand(
  jobs: Command,
  client: () => ApiClient,
  globals: () => GlobalOptions,
  jobIdOf: (c: ApiClient, ref: string) => Promise<string>,
) {
  jobs
    .command("top <job>")
    .description("follow a running job's CPU, memory and GPU use (sampled every 5 s while you watch)")
    .action(async (ref: string) => {
      const c = client();
      const id = await jobIdOf(c, ref);
      const json = outputFormat(globals()) === "json";
      if (!json) process.stderr.write(`sampling job ${id} (Ctrl-C to stop)...\n`);
      for await (const e of followSse(c, `/jobs/${encodeURIComponent(id)}/resource-util`, {
        follow: "true",
      })) {
        if (e.event === "util") {
          const sample = JSON.parse(e.data) as UsageSample;
          process.stdout.write(json ? `${e.data}\n` : `${topLine(sample)}\n`);
        } else if (e.event === "complete") {
          if (!json)
            process.stderr.write(`job ${id} is ${(JSON.parse(e.data) as { status: string }).status}\n`);
          return;
        }
      }
    });
}
