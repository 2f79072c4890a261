import type { Command } from "commander";
import type { JobView } from "../../shared/contracts/jobs.ts";
import { parseDuration } from "../../shared/domain/duration.ts";
import { parseEnv, parseMount, parsePort, SpecError } from "../../shared/domain/spec-strings.ts";
import { collect } from "../args.ts";
import { type GlobalOptions, resolveClient } from "../context.ts";
import { CliError } from "../errors.ts";
import { followJob, pendingLine } from "../follow-job.ts";
import { exitWhenFlushed } from "../output.ts";

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
  cpus?: string;
  memory?: string;
  lostAfter?: string;
  replaceIfLost?: boolean;
  detach?: boolean;
  secret?: string[];
  secretFile?: string[];
}

/**
 * `hf:HF_TOKEN` (an Environment secret as a variable) or `db:db.json` (a File secret as a file), with
 * `namespace/` before the name for a secret outside the default namespace.
 */
function secretRef(flag: string, given: string, as: "env" | "path") {
  const colon = given.indexOf(":");
  if (colon < 1 || colon === given.length - 1)
    throw new CliError(
      `${flag} ${given}: write secret:${as === "env" ? "VARIABLE (e.g. hf:HF_TOKEN)" : "path (e.g. db:db.json)"}`,
      2,
    );
  const secret = given.slice(0, colon);
  const slash = secret.indexOf("/");
  // `team-a/hf:HF_TOKEN`: a secret of another namespace than default.
  const named =
    slash > 0 ? { namespace: secret.slice(0, slash), name: secret.slice(slash + 1) } : { name: secret };
  return { ...named, [as]: given.slice(colon + 1) };
}

/** A positive number from a flag, or a usage error naming it. */
const positive = (flag: string, v: string | undefined): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!(Number.isFinite(n) && n > 0)) throw new CliError(`${flag} must be a positive number, got "${v}"`, 2);
  return n;
};

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
    throw new CliError(`--gpus must be a whole number ≥ 0, not ${o.gpus}`, 2);
  const maxDuration = o.maxDuration === undefined ? undefined : parseDuration(o.maxDuration);
  if (o.maxDuration !== undefined && !maxDuration)
    throw new CliError(`--max-duration: "${o.maxDuration}" is not a duration like 2h`, 2);
  const memory = o.gpuMemory === undefined ? undefined : Number(o.gpuMemory);
  const lostAfterSeconds = o.lostAfter === undefined ? undefined : parseDuration(o.lostAfter);
  if (o.lostAfter !== undefined && !lostAfterSeconds)
    throw new CliError(`--lost-after: "${o.lostAfter}" is not a duration like 30m or 2h`, 2);
  const cpus = positive("--cpus", o.cpus);
  const memoryGiB = positive("--memory", o.memory);
  return {
    ...(o.name ? { name: o.name } : {}),
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
    secrets: [
      ...(o.secret ?? []).map((x) => secretRef("--secret", x, "env")),
      ...(o.secretFile ?? []).map((x) => secretRef("--secret-file", x, "path")),
    ],
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
    ...(cpus ? { cpus } : {}),
    ...(memoryGiB ? { memoryGiB } : {}),
    ...(lostAfterSeconds || o.replaceIfLost
      ? {
          disconnect: {
            ...(lostAfterSeconds ? { lostAfterSeconds } : {}),
            ...(o.replaceIfLost ? { replace: true } : {}),
          },
        }
      : {}),
  };
}

/**
 * Ctrl-C on `berth run` leaves the job alone: the first says how to come back to it (and how to stop it)
 * and keeps following; the second detaches (130).
 */
function onInterrupt(id: string) {
  let interrupts = 0;
  process.on("SIGINT", () => {
    if (++interrupts > 1) {
      process.stderr.write(`\nberth: detached; job ${id} goes on (berth jobs logs -f ${id})\n`);
      void exitWhenFlushed(130);
      return;
    }
    process.stderr.write(
      `\nberth: job ${id} goes on without this terminal. Re-attach: berth jobs logs -f ${id}\n` +
        `berth: stop it: berth jobs stop ${id} (while it waits: berth jobs cancel ${id}). Ctrl-C again to detach.\n`,
    );
  });
}

/** `berth run [...] -- CMD ARGS...`: submit a job, show its progress, stream its output, exit with its code. */
export function runCommand(program: Command) {
  program
    .command("run")
    .description("run a command as a job on the fleet and follow it, like docker run")
    .argument("<command...>", "the program and its arguments (after --)")
    // `berth run ls -la`: -la is taken for an option of berth run; say how to pass it instead of all the help.
    .showHelpAfterError("put the program and its arguments after --, e.g. berth run --gpus 1 -- ls -la")
    .option("--gpus <n>", "GPUs to give it (default 0)")
    .option("--gpu-type <type>", "GPU product, e.g. A100 (matches a substring)")
    .option("--gpu-memory <GiB>", "at least this much memory per GPU")
    .option("--profile <name>", "resource profile")
    .option("--image <image>", "run in this container image")
    .option("-e, --env <NAME=value>", "environment variable (repeatable)", collect)
    .option("--secret <[ns/]name:VARIABLE>", "an Environment secret as this variable (repeatable)", collect)
    .option(
      "--secret-file <[ns/]name:path>",
      "a File secret as this file: relative, under $BERTH_SECRETS_DIR; with --image, its absolute path in the container (repeatable)",
      collect,
    )
    .option("-v, --volume <src[:dst[:ro|rw]]>", "host mount, with --image (repeatable)", collect)
    .option("-p, --publish <port[:target][/proto]>", "exposed port, with --image (repeatable)", collect)
    .option("--tag <tag>", "tag (repeatable)", collect)
    .option(
      "--constraint <name[=value]>",
      "placement constraint: a device label or attribute (repeatable)",
      collect,
    )
    .option("--name <name>", "job name, unique among your jobs that have not ended (default: none)")
    .option("--workdir <dir>", "working directory (absolute)")
    .option("--target <target>", "fleet, cloud or auto")
    .option("--max-duration <duration>", "kill it after this long, e.g. 2h (default 24h)")
    .option("--cpus <n>", "CPUs it needs (placed only where that many are free)")
    .option("--memory <GiB>", "memory it needs, in GiB (placed only where that much is free)")
    .option("--lost-after <duration>", "fail it once its device has been silent this long (default 1h)")
    .option("--replace-if-lost", "when its device is lost, submit a copy of it (placed elsewhere)")
    .option("-d, --detach", "print the job id and return")
    .action(async (command: string[], o: RunOptions) => {
      const client = resolveClient(program.opts<GlobalOptions>(), process.env);
      const job = await client.request<JobView>("POST", "/jobs", { body: runRequest(command, o) });
      if (o.detach) {
        process.stdout.write(`${job.id}\n`);
        return;
      }
      const waits = job.status === "Pending" && job.statusCode !== "Placed";
      process.stderr.write(
        `berth: ${waits ? pendingLine(job.id, job) : `job ${job.id} ${job.statusMessage ?? job.status}`}\n`,
      );
      onInterrupt(job.id);
      await exitWhenFlushed(
        await followJob(client, job.id, {
          progress: true,
          shown: job,
          endpoints: (o.publish ?? []).length > 0,
        }),
      );
    });
}
