import type { Command } from "commander";
import type { JobView } from "../../shared/contracts/jobs.ts";
import { parseDuration } from "../../shared/domain/duration.ts";
import { parseEnv, parseMount, parsePort, SpecError } from "../../shared/domain/spec-strings.ts";
import { collect } from "../args.ts";
import type { ApiClient } from "../client.ts";
import { type GlobalOptions, resolveClient } from "../context.ts";
import { CliError } from "../errors.ts";
import { exitWhenFlushed } from "../output.ts";
import { readSse } from "../sse.ts";

interface RunOptions {
  gpus?: string;
  gpuType?: string;
  gpuMemory?: string;
  profile?: string;
  image?: string;
  env?: string[];
  volume?: string[];
  publish?: string[];
  tag?: string[];
  constraint?: string[];
  name?: string;
  workdir?: string;
  target?: string;
  maxDuration?: string;
  detach?: boolean;
}

const spec = <T>(parse: (s: string) => T, items: string[] | undefined): T[] => {
  try {
    return (items ?? []).map(parse);
  } catch (err) {
    if (err instanceof SpecError) throw new CliError(err.message, 2);
    throw err;
  }
};

/** The job body `berth run` submits. */
export function runRequest(command: string[], o: RunOptions): Record<string, unknown> {
  if (command.length === 0)
    throw new CliError("give the command to run after --, e.g. berth run -- nvidia-smi", 2);
  const count = o.gpus === undefined ? undefined : Number(o.gpus);
  if (count !== undefined && !(Number.isInteger(count) && count >= 0))
    throw new CliError("--gpus must be a whole number", 2);
  const maxDuration = o.maxDuration === undefined ? undefined : parseDuration(o.maxDuration);
  if (o.maxDuration !== undefined && !maxDuration)
    throw new CliError(`--max-duration: "${o.maxDuration}" is not a duration like 2h`, 2);
  const memory = o.gpuMemory === undefined ? undefined : Number(o.gpuMemory);
  return {
    name: o.name ?? command.join(" ").slice(0, 200),
    exe: command[0],
    args: command.slice(1),
    ...(o.image ? { container: { image: o.image } } : {}),
    ...(count !== undefined || o.gpuType || memory
      ? {
          gpus: {
            count: count ?? 1,
            ...(o.gpuType ? { type: o.gpuType } : {}),
            ...(memory ? { memoryGiB: memory } : {}),
          },
        }
      : {}),
    environment: spec(parseEnv, o.env),
    mounts: spec(parseMount, o.volume),
    exposedPorts: spec(parsePort, o.publish),
    tags: o.tag ?? [],
    placementConstraints: (o.constraint ?? []).map((c) => {
      const eq = c.indexOf("=");
      return eq === -1 ? { name: c } : { name: c.slice(0, eq), value: c.slice(eq + 1) };
    }),
    ...(o.profile ? { resourceProfile: o.profile } : {}),
    ...(o.workdir ? { workingDirectory: o.workdir } : {}),
    ...(o.target ? { target: o.target } : {}),
    ...(maxDuration ? { maxDuration } : {}),
  };
}

/** Opens a server-sent event stream of the API. */
async function stream(client: ApiClient, path: string, signal: AbortSignal) {
  const res = await client.raw("GET", path, { signal });
  return readSse(res.body!);
}

/**
 * Follows a job to its end: progress on stderr (from its events), output on stdout/stderr. Returns the
 * process exit code, like `docker run`: the job's own exit code; 125 when it could not start; 137 killed.
 */
export async function followJob(client: ApiClient, job: JobView, quiet = false): Promise<number> {
  const abort = new AbortController();
  const progress = (async () => {
    if (quiet) return;
    try {
      for await (const e of await stream(client, `/jobs/${job.id}/events`, abort.signal)) {
        if (e.event === "complete" || e.event === "closing") break;
        const event = JSON.parse(e.data) as { type: string; message: string };
        if (event.type !== "exited") process.stderr.write(`berth: ${event.type}: ${event.message}\n`);
      }
    } catch {
      // progress is best effort; the output stream decides the outcome
    }
  })();
  let done: { status?: string; exitCode?: number; statusMessage?: string } = {};
  for await (const e of await stream(
    client,
    `/jobs/${job.id}/output?follow=true`,
    AbortSignal.timeout(2 ** 31 - 1),
  )) {
    if (e.event === "output") {
      const line = JSON.parse(e.data) as { stream: string; data: string };
      (line.stream === "stderr" ? process.stderr : process.stdout).write(line.data);
    } else if (e.event === "complete") {
      done = JSON.parse(e.data) as typeof done;
      break;
    } else if (e.event === "closing") {
      abort.abort();
      await progress;
      process.stderr.write(
        `berth: the control plane is shutting down; job ${job.id} goes on: follow it again with berth jobs logs -f ${job.id}\n`,
      );
      return 1;
    }
  }
  // The progress stream ends by itself once the job is final; give it a moment to print its last lines.
  await Promise.race([progress, new Promise((r) => setTimeout(r, 2000).unref())]);
  abort.abort();
  await progress;
  switch (done.status) {
    case "Finished":
      return done.exitCode ?? 0;
    case "Killed":
      process.stderr.write(`berth: job ${job.id} was killed: ${done.statusMessage ?? ""}\n`);
      return done.exitCode ?? 137;
    case "Canceled":
      process.stderr.write(`berth: job ${job.id} was canceled\n`);
      return 130;
    default:
      process.stderr.write(
        `berth: job ${job.id} failed: ${done.statusMessage ?? done.status ?? "unknown"}\n`,
      );
      return 125;
  }
}

/**
 * Ctrl-C on `berth run`: a job still waiting is canceled, a running one stopped. The status may change
 * between reading it and asking (409), so the other operation is tried once.
 */
async function interrupt(client: ApiClient, id: string): Promise<void> {
  const control = (operation: string) =>
    client.request("POST", `/jobs/${id}/control`, { body: { operation } });
  try {
    const { status } = await client.request<JobView>("GET", `/jobs/${id}`);
    if (status === "Pending") await control("cancel").catch(() => control("stop"));
    else if (status === "Running") await control("stop").catch(() => control("cancel"));
    else if (status === "Suspended")
      process.stderr.write(`berth: job ${id} is Suspended: berth jobs resume ${id}, then stop it\n`);
  } catch (err) {
    process.stderr.write(`berth: could not stop job ${id}: ${(err as Error).message}\n`);
  }
}

/** `berth run [...] -- CMD ARGS...`: submit a job, show its progress, stream its output, exit with its code. */
export function runCommand(program: Command) {
  program
    .command("run")
    .description("run a command as a job on the fleet and follow it, like docker run")
    .argument("<command...>", "the program and its arguments (after --)")
    .option("--gpus <n>", "GPUs to give it (default 0)")
    .option("--gpu-type <type>", "GPU product, e.g. A100 (matches a substring)")
    .option("--gpu-memory <GiB>", "at least this much memory per GPU")
    .option("--profile <name>", "resource profile")
    .option("--image <image>", "run in this container image")
    .option("-e, --env <NAME=value>", "environment variable (repeatable)", collect)
    .option("-v, --volume <src[:dst[:ro|rw]]>", "host mount, with --image (repeatable)", collect)
    .option("-p, --publish <port[:target][/proto]>", "exposed port, with --image (repeatable)", collect)
    .option("--tag <tag>", "tag (repeatable)", collect)
    .option(
      "--constraint <name[=value]>",
      "placement constraint: a device label or attribute (repeatable)",
      collect,
    )
    .option("--name <name>", "job name (default: the command line)")
    .option("--workdir <dir>", "working directory (absolute)")
    .option("--target <target>", "fleet, cloud or auto")
    .option("--max-duration <duration>", "kill it after this long, e.g. 2h (default 24h)")
    .option("-d, --detach", "print the job id and return")
    .action(async (command: string[], o: RunOptions) => {
      const client = resolveClient(program.opts<GlobalOptions>(), process.env);
      const job = await client.request<JobView>("POST", "/jobs", { body: runRequest(command, o) });
      if (o.detach) {
        process.stdout.write(`${job.id}\n`);
        return;
      }
      process.stderr.write(`berth: job ${job.id} ${job.statusMessage ?? job.status}\n`);
      // Ctrl-C once: stop the job (SIGTERM, grace, SIGKILL) and keep following it; twice: leave it running.
      let interrupts = 0;
      process.on("SIGINT", () => {
        if (++interrupts > 1) process.exit(130);
        process.stderr.write(`\nberth: stopping job ${job.id} (Ctrl-C again to detach)\n`);
        void interrupt(client, job.id);
      });
      await exitWhenFlushed(await followJob(client, job));
    });
}
