import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { ContainerData } from "../../shared/domain/reservation-data.ts";
import type { Runner } from "../nvidia-smi.ts";
import { ApplyError } from "./process.ts";

/** Containers through the Docker CLI. Names are derived from the reservation id, so a container is found again after a restart. */
export const containerName = (reservationId: string) => `berth-${reservationId}`;

/** `docker run` arguments for a container reservation (exported for tests). */
export function dockerRunArgs(id: string, data: ContainerData): string[] {
  const args = ["run", "-d", "--name", containerName(id), "--label", `berth.reservation=${id}`];
  if (data.gpus === "all") args.push("--gpus", "all");
  else if (data.gpus.length > 0) args.push("--gpus", `"device=${data.gpus.join(",")}"`);
  for (const [k, v] of Object.entries(data.env)) args.push("-e", `${k}=${v}`);
  args.push("-e", `BERTH_RESERVATION_ID=${id}`);
  for (const m of data.mounts) args.push("-v", `${m.source}:${m.target}${m.readOnly ? ":ro" : ""}`);
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

const firstLine = (text: string) => text.trim().split("\n").pop() ?? "";

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
        problem = firstLine(res.stderr || res.stdout) || `docker version exited with ${res.code}`;
    } catch {
      problem = "the docker command is not installed";
    }
    this.#checked = { at: Date.now(), problem };
    return problem;
  }

  async pull(image: string): Promise<void> {
    const res = await this.#run("docker", ["pull", image]);
    if (res.code !== 0) throw new ApplyError(`docker pull ${image} failed: ${firstLine(res.stderr)}`);
  }

  /** Starts the container (or finds it, if a previous agent run started it) and follows its logs into files. */
  async start(id: string, data: ContainerData, workloadsDir: string) {
    const dir = join(workloadsDir, id);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const res = await this.#run("docker", dockerRunArgs(id, data));
    if (res.code !== 0 && !/already in use/.test(res.stderr)) {
      throw new ApplyError(`docker run failed: ${firstLine(res.stderr)}`);
    }
    return { name: containerName(id), dir, logsPid: this.followLogs(containerName(id), dir) };
  }

  /** `docker logs -f` into the workload's stdout/stderr files, detached like the workload itself. */
  followLogs(name: string, dir: string): number | undefined {
    const out = openSync(join(dir, "stdout"), "a", 0o600);
    const err = openSync(join(dir, "stderr"), "a", 0o600);
    try {
      const child = spawn("docker", ["logs", "--follow", name], {
        detached: true,
        stdio: ["ignore", out, err],
      });
      child.on("error", () => {});
      child.unref();
      return child.pid;
    } finally {
      closeSync(out);
      closeSync(err);
    }
  }

  /** running, exited with a code, or gone. */
  async status(
    name: string,
  ): Promise<{ state: "running" } | { state: "exited"; code: number } | { state: "missing" }> {
    const res = await this.#run("docker", ["inspect", "-f", "{{.State.Running}} {{.State.ExitCode}}", name]);
    if (res.code !== 0) return { state: "missing" };
    const [running, code] = res.stdout.trim().split(" ");
    return running === "true" ? { state: "running" } : { state: "exited", code: Number(code) };
  }

  async signal(name: string, action: "pause" | "unpause" | "kill"): Promise<void> {
    await this.#run("docker", [action, name]);
  }

  /** `docker stop` (SIGTERM, grace, SIGKILL), then removes it unless asked not to; returns its exit code. */
  async stop(name: string, graceSeconds: number, remove = true): Promise<number> {
    await this.#run("docker", ["stop", "-t", String(graceSeconds), name], {
      timeoutMs: (graceSeconds + 30) * 1000,
    } as never);
    const s = await this.status(name);
    if (remove) await this.#run("docker", ["rm", "-f", name]);
    return s.state === "exited" ? s.code : 137;
  }
}
