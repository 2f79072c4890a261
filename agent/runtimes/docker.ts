import { spawn } from "node:child_process";
import { closeSync, openSync, writeFileSync } from "node:fs";
import { mkdir, readFile, truncate } from "node:fs/promises";
import { join } from "node:path";
import type { WorkloadNetwork } from "../../shared/domain/job-network.ts";
import type { ContainerData } from "../../shared/domain/reservation-data.ts";
import type { Runner } from "../nvidia-smi.ts";
import { hasLocalImage, publishedPort, pullWithProgress } from "./lab.ts";
import { inspectNetwork } from "./network.ts";
import { ApplyError } from "./process.ts";

/** Containers through the Docker CLI. Names are derived from the reservation id, so a container is found again after a restart. */
export const containerName = (reservationId: string) => `berth-${reservationId}`;

/**
 * How long after a container ended its log follower may still be copying: until then the container counts
 * as running, so that its result never goes out before the last of its output is in the files.
 */
const LOG_DRAIN_MS = 10_000;

/** `--mount` takes CSV: a quoted field may hold commas, colons and (doubled) quotes. */
const csvField = (f: string) => (/[",\s]/.test(f) ? `"${f.replaceAll('"', '""')}"` : f);

/**
 * What a container gets of its secrets (agent/secrets.ts): env values in a file `docker run` reads and the
 * agent deletes right after, files bind-mounted read-only (a `--mount` refuses a missing source, so a
 * container Docker restarts at boot, before the agent has written them again, fails: the agent then writes
 * them and starts it, engine.ts #restoreAppContainers).
 */
export interface ContainerSecrets {
  envFile?: string;
  mounts: { source: string; target: string }[];
}
const NO_SECRETS: ContainerSecrets = { mounts: [] };

/**
 * `docker run` arguments for a container reservation (exported for tests). `--init` makes docker-init PID 1:
 * it passes signals on to the program, which then gets a stop's SIGTERM like a host process does (PID 1
 * ignores every signal it has no handler for, so a plain program would only ever be SIGKILLed after the
 * grace period), and it reaps the program's orphans. Mounts are `--mount` binds, not `-v`: a source that
 * does not exist is an error (`-v` would create it on the host, as root), and a path may hold a colon.
 */
export function dockerRunArgs(
  id: string,
  data: ContainerData,
  secrets: ContainerSecrets = NO_SECRETS,
  app?: AppContainerOptions,
): string[] {
  const args = [
    "run",
    "-d",
    "--init",
    "--name",
    app?.name ?? containerName(id),
    "--label",
    `berth.reservation=${id}`,
  ];
  if (app) {
    args.push("--label", `berth.application=${app.applicationId}`);
    const r = app.restartPolicy;
    args.push(
      "--restart",
      r.name === "on-failure" && r.maximumRetryCount !== undefined
        ? `on-failure:${r.maximumRetryCount}`
        : r.name,
    );
    if (app.network) args.push("--network", app.network);
    if (app.hostname) args.push("--hostname", app.hostname);
    if (app.privileged) args.push("--privileged");
    for (const cap of app.capAdd ?? []) args.push("--cap-add", cap);
    for (const cap of app.capDrop ?? []) args.push("--cap-drop", cap);
    if (app.shmSizeBytes !== undefined) args.push("--shm-size", `${app.shmSizeBytes}b`);
    if (app.memoryBytes !== undefined) args.push("--memory", `${app.memoryBytes}b`);
    if (app.forcePull) args.push("--pull", "always");
  }
  if (data.cpus !== undefined) args.push("--cpus", String(data.cpus));
  if (data.memoryMiB !== undefined) args.push("--memory", `${data.memoryMiB}m`);
  if (data.memorySwapMiB !== undefined) args.push("--memory-swap", `${data.memorySwapMiB}m`);
  if (data.lab) args.push("--label", "berth.lab=1");
  if (data.gpus === "all") args.push("--gpus", "all");
  else if (data.gpus.length > 0) args.push("--gpus", `"device=${data.gpus.join(",")}"`);
  for (const [k, v] of Object.entries(data.env)) args.push("-e", `${k}=${v}`);
  if (secrets.envFile) args.push("--env-file", secrets.envFile);
  args.push("-e", `BERTH_RESERVATION_ID=${id}`);
  const mounts = [...data.mounts, ...secrets.mounts.map((m) => ({ ...m, readOnly: true }))];
  for (const m of mounts) {
    const fields = [
      "type=bind",
      `source=${m.source}`,
      `target=${m.target}`,
      ...(m.readOnly ? ["readonly"] : []),
    ];
    args.push("--mount", fields.map(csvField).join(","));
  }
  for (const p of data.ports) {
    args.push("-p", `${p.hostPort !== undefined ? `${p.hostPort}:` : ""}${p.containerPort}/${p.protocol}`);
  }
  if (data.workingDirectory) args.push("-w", data.workingDirectory);
  if (data.user) args.push("-u", data.user);
  if (data.command && data.command.length > 0) {
    args.push("--entrypoint", data.command[0]!, data.image, ...data.command.slice(1), ...data.args);
  } else args.push(data.image, ...data.args);
  return args;
}

/** An application's container (specs/applications.md §4): its own name, Docker's restart policy, its network. */
export interface AppContainerOptions {
  /** `berth-app-<app id>-<container>`: what a successor with the same spec finds running. */
  name: string;
  applicationId: string;
  restartPolicy: { name: "always" | "unless-stopped" | "on-failure" | "no"; maximumRetryCount?: number };
  /** The app's own bridge, `host`, or undefined: Docker's default bridge (`isolated`). */
  network?: string;
  /** A client config directory with registry credentials (`docker --config <dir> run`: the pull uses them). */
  dockerConfig?: string;
  hostname?: string;
  privileged?: boolean;
  capAdd?: string[];
  capDrop?: string[];
  shmSizeBytes?: number;
  memoryBytes?: number;
  /** `--pull always`: the image is pulled even when the device has it. */
  forcePull?: boolean;
  /** How long `docker run` (its pull included) may take; 30 minutes when not given. */
  pullTimeoutSeconds?: number;
}

/** An application container as `docker inspect` sees it. */
export interface AppContainerState {
  /** created, running, restarting, paused, exited, dead; undefined: no such container. */
  status?: string;
  exitCode: number;
  restartCount: number;
  startedAt?: string;
  /** Docker did not answer. */
  problem?: string;
}

/**
 * What went wrong, from the docker CLI's stderr: its `Error ...` lines without their `docker: ` prefix (not
 * the usage hint that follows them, `Run 'docker run --help' ...`, nor pull progress); else its last line.
 */
export function dockerError(stderr: string): string {
  const lines = stderr
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !/^(Run|See) 'docker .*--help'/.test(l));
  const errors = lines.filter((l) => /^(docker: )?Error\b/.test(l));
  const picked = errors.length > 0 ? errors : lines.slice(-1);
  return picked.map((l) => l.replace(/^docker: /, "")).join("; ") || "no message";
}

/** `docker run` had to pull the image, and could not. */
const pullFailed = (stderr: string) =>
  /Unable to find image .* locally/.test(stderr) &&
  !/^Status: (Downloaded newer image|Image is up to date)/m.test(stderr);

export type ContainerStatus =
  | { state: "running" }
  | { state: "exited"; code: number }
  | { state: "missing" }
  /** Docker did not answer (a daemon restarting, a timeout): nothing is known, ask again later. */
  | { state: "unknown"; problem: string };

/** Whether `pid` is still the `docker logs` follower of `name` (not a zombie, not a reused pid). */
async function following(pid: number, name: string): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) return false;
    const argv = (await readFile(`/proc/${pid}/cmdline`, "utf8")).split("\0");
    return argv.includes("logs") && argv.includes(name);
  } catch {
    return false;
  }
}

const terminate = (pid: number) => {
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    // gone already
  }
};

/** Waits up to `ms` for a log follower to finish copying (it ends with its container), then ends it. */
async function endFollower(pid: number, name: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline && (await following(pid, name))) await new Promise((r) => setTimeout(r, 50));
  if (await following(pid, name)) terminate(pid);
}

/** Docker's human sizes ("1.24MB", "512kB", "3GB") in bytes (SI units, as Docker prints them). */
export function dockerSize(text: string): number | undefined {
  const m = /^([\d.]+)\s*([kMGT]?B)$/.exec(text.trim());
  if (!m) return undefined;
  const scale = { B: 1, kB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12 }[m[2] as "B"] ?? 1;
  return Math.round(Number(m[1]) * scale);
}

/** The images Docker holds (`docker image ls --digests`), at most `max`, newest first. */
export async function dockerImages(
  run: Runner,
  max = 500,
): Promise<{ reference: string; digest?: string; sizeBytes?: number }[]> {
  const res = await run("docker", ["image", "ls", "--digests", "--format", "{{json .}}"]);
  if (res.code !== 0) return [];
  const out: { reference: string; digest?: string; sizeBytes?: number }[] = [];
  for (const line of res.stdout.split("\n")) {
    if (!line.trim() || out.length >= max) continue;
    try {
      const i = JSON.parse(line) as { Repository?: string; Tag?: string; Digest?: string; Size?: string };
      if (!i.Repository || i.Repository === "<none>" || !i.Tag || i.Tag === "<none>") continue;
      const reference = `${i.Repository}:${i.Tag}`;
      if (reference.length > 256) continue; // longer than a machine-info leaf
      out.push({
        reference,
        ...(i.Digest && i.Digest !== "<none>" ? { digest: i.Digest } : {}),
        ...(i.Size ? { sizeBytes: dockerSize(i.Size) } : {}),
      });
    } catch {
      // not a line of Docker's JSON: skipped
    }
  }
  return out;
}

export class DockerRuntime {
  readonly #run: Runner;
  #checked?: { at: number; problem?: string };

  constructor(run: Runner) {
    this.#run = run;
  }

  /** Why Docker cannot be used right now (no CLI, no daemon), or undefined when it can. Cached 30 s. */
  async problem(): Promise<string | undefined> {
    if (this.#checked && Date.now() - this.#checked.at < 30_000) return this.#checked.problem;
    let problem: string | undefined;
    try {
      const res = await this.#run("docker", ["version", "--format", "{{.Server.Version}}"]);
      if (res.code !== 0)
        problem = res.stderr.trim() ? dockerError(res.stderr) : `docker version exited with ${res.code}`;
    } catch {
      problem = "the docker command is not installed";
    }
    this.#checked = { at: Date.now(), problem };
    return problem;
  }

  /**
   * A lab's image (specs/labs.md §5): pulled with its progress (`onProgress`) unless Docker has it already
   * (what the prepuller is for) and its tag is not `latest`; a failed pull of an image it has goes on with it.
   */
  async pullForLab(image: string, onProgress: (message: string) => void): Promise<void> {
    const local = await hasLocalImage(this.#run, image);
    if (local && !/:latest$|^[^:]*$/.test(image.split("/").at(-1) ?? "")) return;
    try {
      await pullWithProgress(image, onProgress);
    } catch (e) {
      if (!local) throw new ApplyError(`docker pull ${image} failed: ${(e as Error).message}`);
    }
  }

  /** The container's IPs and published ports (`docker inspect`), or undefined when Docker does not answer. */
  network(name: string): Promise<WorkloadNetwork | undefined> {
    return inspectNetwork(this.#run, name);
  }

  /** The host port Docker published the container's `port` on. */
  hostPort(name: string, port: number): Promise<number | undefined> {
    return publishedPort(this.#run, name, port);
  }

  async pull(image: string): Promise<void> {
    const res = await this.#run("docker", ["pull", image], { timeoutMs: 30 * 60_000 });
    if (res.code !== 0) throw new ApplyError(`docker pull ${image} failed: ${dockerError(res.stderr)}`);
  }

  /**
   * Starts the container and follows its logs into files. A container of that name already there was
   * started by a previous agent run that crashed before recording it: it is adopted (started, if it was
   * only created), never run again, and its logs are read again from the start (none were reported).
   */
  async start(id: string, data: ContainerData, workloadsDir: string, secrets: ContainerSecrets = NO_SECRETS) {
    const name = containerName(id);
    const dir = join(workloadsDir, id);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    // Pulls can take long; a timeout here would leave a container starting that nobody follows.
    const res = await this.#run("docker", dockerRunArgs(id, data, secrets), { timeoutMs: 30 * 60_000 });
    if (res.code !== 0 && /already in use/.test(res.stderr)) {
      if ((await this.#inspect(name)).status === "created") {
        const started = await this.#run("docker", ["start", name]);
        if (started.code !== 0)
          await this.#failed(name, `docker start failed: ${dockerError(started.stderr)}`);
      }
      await this.#stopFollowing(dir, name);
      await Promise.all(["stdout", "stderr"].map((f) => truncate(join(dir, f)).catch(() => {})));
    } else if (res.code !== 0) {
      await this.#failed(
        name,
        pullFailed(res.stderr)
          ? `docker run failed: could not pull ${data.image}: ${dockerError(res.stderr)}`
          : `docker run failed: ${dockerError(res.stderr)}`,
      );
    }
    return { name, dir, logsPid: this.followLogs(name, dir) };
  }

  /** A container that could not start is removed (`docker run` leaves it created): nothing of it stays. */
  async #failed(name: string, message: string): Promise<never> {
    await this.#run("docker", ["rm", "-f", name]);
    throw new ApplyError(message);
  }

  /**
   * Starts one container of an application (`--restart` per its policy: Docker brings it back, also while
   * the agent is down) and follows its logs. A container of that name is a leftover of an earlier
   * reservation of the application (one whose record is lost, or cut short while starting): it goes first.
   */
  async startApp(
    id: string,
    data: ContainerData,
    dir: string,
    secrets: ContainerSecrets,
    app: AppContainerOptions,
  ): Promise<{ logsPid?: number }> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await this.#run("docker", ["rm", "-f", app.name]);
    const timeoutMs = (app.pullTimeoutSeconds ?? 30 * 60) * 1000;
    const started = Date.now();
    const res = await this.#run(
      "docker",
      [...(app.dockerConfig ? ["--config", app.dockerConfig] : []), ...dockerRunArgs(id, data, secrets, app)],
      { timeoutMs },
    );
    if (res.code !== 0 && Date.now() - started >= timeoutMs)
      await this.#failed(
        app.name,
        `container ${data.image}: not started within ${timeoutMs / 1000} s (imagePullTimeout): the pull took too long`,
      );
    if (res.code !== 0)
      await this.#failed(
        app.name,
        pullFailed(res.stderr)
          ? `container ${data.image}: could not pull it: ${dockerError(res.stderr)}`
          : `docker run failed: ${dockerError(res.stderr)}`,
      );
    return { logsPid: this.followLogs(app.name, dir) };
  }

  /** Creates an application's bridge network once (`docker network create`; one already there is fine). */
  async ensureNetwork(name: string, applicationId: string): Promise<void> {
    if ((await this.#run("docker", ["network", "inspect", name])).code === 0) return;
    const res = await this.#run("docker", [
      "network",
      "create",
      "--label",
      `berth.application=${applicationId}`,
      name,
    ]);
    if (res.code !== 0 && !/already exists/.test(res.stderr))
      throw new ApplyError(`docker network create ${name} failed: ${dockerError(res.stderr)}`);
  }

  /** Removes an application's network once its last container is gone (errors are only logged by Docker). */
  async removeNetwork(name: string): Promise<void> {
    await this.#run("docker", ["network", "rm", name]);
  }

  /** Removes every container labelled with the application (`berth.application=<id>`): their names. */
  async removeApplication(applicationId: string): Promise<string[]> {
    const res = await this.#run("docker", [
      "ps",
      "-a",
      "--filter",
      `label=berth.application=${applicationId}`,
      "--format",
      "{{.Names}}",
    ]);
    const names = res.code === 0 ? res.stdout.split("\n").filter(Boolean) : [];
    if (names.length > 0) await this.#run("docker", ["rm", "-f", ...names]);
    return names;
  }

  /** Removes a container at once, whatever its state (a failed apply's leftovers). */
  async remove(name: string): Promise<void> {
    await this.#run("docker", ["rm", "-f", name]);
  }

  /** `docker start` of a container that is there, stopped; why it could not, or undefined. */
  async startAgain(name: string): Promise<string | undefined> {
    const res = await this.#run("docker", ["start", name]);
    return res.code === 0 ? undefined : dockerError(res.stderr);
  }

  /** An application container's state, restarts and exit code (`docker inspect`). */
  async appState(name: string): Promise<AppContainerState> {
    const res = await this.#run("docker", [
      "inspect",
      "--type",
      "container",
      "-f",
      "{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}} {{.State.StartedAt}}",
      name,
    ]);
    if (res.code !== 0)
      return /No such (container|object)/i.test(res.stderr)
        ? { exitCode: 0, restartCount: 0 }
        : { exitCode: 0, restartCount: 0, problem: dockerError(res.stderr) };
    const [status, code, restarts, startedAt] = res.stdout.trim().split(" ");
    return { status, exitCode: Number(code), restartCount: Number(restarts), startedAt };
  }

  /** Whether `pid` is still following `name`'s logs. */
  following(pid: number | undefined, name: string): Promise<boolean> {
    return pid ? following(pid, name) : Promise.resolve(false);
  }

  /**
   * `docker logs -f` into the workload's stdout/stderr files, detached like the workload itself; `since`
   * (a container restarted: the follower of its last run ended with it) reads from then on only.
   */
  followLogs(name: string, dir: string, since?: string): number | undefined {
    const out = openSync(join(dir, "stdout"), "a", 0o600);
    const err = openSync(join(dir, "stderr"), "a", 0o600);
    try {
      const child = spawn("docker", ["logs", "--follow", ...(since ? ["--since", since] : []), name], {
        detached: true,
        stdio: ["ignore", out, err],
      });
      child.on("error", () => {});
      child.unref();
      if (child.pid) writeFileSync(join(dir, "logs.pid"), String(child.pid), { mode: 0o600 });
      return child.pid;
    } finally {
      closeSync(out);
      closeSync(err);
    }
  }

  /** Ends a follower a previous run left (found through its pid file), so that no two write the files. */
  async #stopFollowing(dir: string, name: string): Promise<void> {
    const pid = Number(await readFile(join(dir, "logs.pid"), "utf8").catch(() => ""));
    if (pid > 0 && (await following(pid, name))) {
      terminate(pid);
      await endFollower(pid, name, 2000);
    }
  }

  async #inspect(
    name: string,
  ): Promise<{ status?: string; code?: number; finishedAt?: number; problem?: string }> {
    const res = await this.#run("docker", [
      "inspect",
      "--type",
      "container",
      "-f",
      "{{.State.Status}} {{.State.ExitCode}} {{.State.FinishedAt}}",
      name,
    ]);
    if (res.code !== 0) {
      return /No such (container|object)/i.test(res.stderr) ? {} : { problem: dockerError(res.stderr) };
    }
    const [status, code, finishedAt] = res.stdout.trim().split(" ");
    return { status, code: Number(code), finishedAt: Date.parse(finishedAt ?? "") };
  }

  /**
   * Running (or paused), exited with a code, gone, or unknown (docker did not answer). Given the log
   * follower's pid, an ended container counts as running until the follower has copied all of its logs
   * (at most LOG_DRAIN_MS after its end; a follower that takes longer is stopped).
   */
  async status(name: string, logsPid?: number): Promise<ContainerStatus> {
    const s = await this.#inspect(name);
    if (s.problem !== undefined) return { state: "unknown", problem: s.problem };
    if (s.status === undefined) return { state: "missing" };
    if (s.status === "running" || s.status === "paused" || s.status === "restarting")
      return { state: "running" };
    if (logsPid && (await following(logsPid, name))) {
      if (Date.now() - (s.finishedAt || 0) <= LOG_DRAIN_MS) return { state: "running" };
      terminate(logsPid);
    }
    return { state: "exited", code: s.code ?? 137 };
  }

  async signal(name: string, action: "pause" | "unpause" | "kill"): Promise<void> {
    await this.#run("docker", [action, name]);
  }

  /**
   * `docker stop` (SIGTERM, grace, SIGKILL; a paused container is unpaused first, or it could not act on
   * the SIGTERM), then, once the log follower has copied its last output, removes it unless asked not to.
   * Returns its exit code.
   */
  async stop(name: string, graceSeconds: number, remove = true, logsPid?: number): Promise<number> {
    if ((await this.#inspect(name)).status === "paused") await this.#run("docker", ["unpause", name]);
    await this.#run("docker", ["stop", "-t", String(graceSeconds), name], {
      timeoutMs: (graceSeconds + 30) * 1000,
    });
    const s = await this.status(name);
    if (logsPid) await endFollower(logsPid, name, LOG_DRAIN_MS);
    if (remove) await this.#run("docker", ["rm", "-f", name]);
    return s.state === "exited" ? s.code : 137;
  }
}
