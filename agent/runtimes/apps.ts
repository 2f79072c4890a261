import { rm } from "node:fs/promises";
import { join } from "node:path";
import type { ApplicationData } from "../../shared/domain/reservation-data.ts";
import { exitStatus, isAlive, startProcess } from "./process.ts";

/** Synpse's workload states, as the agent reports each program (or container) of an application. */
export type ProgramState = "pending" | "created" | "running" | "stopped" | "exited" | "failed" | "unknown";

/** One supervised program of a `process` application, as the agent keeps it (cache record). */
export interface AppProgram {
  name: string;
  pid: number;
  startTicks?: string;
  dir: string;
  state: ProgramState;
  restartCount: number;
  exitCode?: number;
  startedAt?: string;
  /** When a program that ended starts again (its restart policy's backoff). */
  nextStartAt?: number;
  message: string;
  /** A container application's: the Docker container (its pid is 0) and its log follower. */
  container?: string;
  logsPid?: number;
  /** The container run (its StartedAt) whose logs the follower reads. */
  followedRun?: string;
  /** How far its stdout and stderr have been shipped (the reservation numbers the chunks of all programs). */
  shipped?: { stdout: number; stderr: number };
  /** How far its output files' shipped bytes have been freed from disk (releaseShipped). */
  released?: { stdout: number; stderr: number };
  /**
   * The reservation whose secret directory it uses: the one that started it (a successor that adopts it
   * keeps it, since that is what a container mounts). Removed with the reservation that ends it.
   */
  secretsOf?: string;
}

type Program = ApplicationData["containers"][number];

/** 1 s, 2 s, 4 s ... up to a minute between restarts, as Docker backs off. */
export const restartBackoffMs = (restarts: number) => Math.min(60_000, 1000 * 2 ** Math.min(restarts, 6));

/**
 * What a program's end leads to under its restart policy (Docker's rules): `always` and `unless-stopped`
 * start it again whatever its code; `on-failure` only after a failure, at most `maximumRetryCount` times;
 * `no` never. A program that is not started again has `exited` (code 0) or `failed`.
 */
export function afterExit(
  policy: Program["restartPolicy"],
  code: number,
  restarts: number,
): "restart" | "exited" | "failed" {
  const again =
    policy.name === "always" ||
    policy.name === "unless-stopped" ||
    (policy.name === "on-failure" &&
      code !== 0 &&
      (policy.maximumRetryCount === undefined || restarts < policy.maximumRetryCount));
  if (again) return "restart";
  return code === 0 ? "exited" : "failed";
}

/** Starts (or starts again) one program under the process wrapper, in its own directory. */
export async function startProgram(
  reservationId: string,
  p: Program,
  env: Record<string, string>,
  workloadsDir: string,
  grace: number,
): Promise<{ pid: number; startTicks?: string; dir: string }> {
  const dir = join(workloadsDir, reservationId, p.name);
  // The last run's status and pid go: the wrapper writes them again (its output is appended to).
  await Promise.all(["exit", "pid"].map((f) => rm(join(dir, f), { force: true })));
  return startProcess(
    `${reservationId}/${p.name}`,
    {
      argv: p.argv!,
      env,
      // Its share of the GPUs the application holds here (CUDA_VISIBLE_DEVICES); none for "all".
      gpus: Array.isArray(p.gpus) ? p.gpus : [],
      stopGracePeriodSeconds: grace,
      secretEnv: {},
      secretFiles: [],
      secretRefs: [],
      ...(p.workingDirectory ? { workingDirectory: p.workingDirectory } : {}),
    },
    workloadsDir,
  );
}

/** A running program's exit code once it has ended (137: gone without one), else undefined. */
export async function programEnded(p: AppProgram): Promise<number | undefined> {
  const code = await exitStatus(p.dir);
  if (code !== undefined) return code;
  return (await isAlive(p.pid, p.startTicks)) ? undefined : 137;
}

/** An application's container on this device: found again by a successor with the same spec. */
export const appContainerName = (applicationId: string, container: string) =>
  `berth-app-${applicationId.toLowerCase()}-${container}`;
/** The application's own bridge network (network mode `bridge`). */
export const appNetworkName = (applicationId: string) => `berth-app-${applicationId.toLowerCase()}`;

/** The `--network` of a container: the application's bridge, the host's, or Docker's default (isolated). */
export function networkOf(applicationId: string, mode: Program["networkMode"]): string | undefined {
  if (mode === "host") return "host";
  if (mode === "isolated") return undefined;
  return appNetworkName(applicationId);
}

/**
 * A container's Docker state as Synpse's (applications.md §4): `restarting` is `pending` (Synpse: "retries
 * are returned to this state too"), an `exited` one with a restart to come is `exited`, with none left
 * `failed` (or `exited` after code 0), `paused` is `stopped`, gone is `unknown`.
 */
export function containerState(
  s: { status?: string; exitCode: number; restartCount: number },
  policy: Program["restartPolicy"],
): ProgramState {
  switch (s.status) {
    case "running":
      return "running";
    case "restarting":
      return "pending";
    case "created":
      return "created";
    case "paused":
      return "stopped";
    case "exited":
    case "dead":
      return afterExit(policy, s.exitCode, s.restartCount) === "restart"
        ? "exited"
        : s.exitCode === 0
          ? "exited"
          : "failed";
    default:
      return "unknown";
  }
}
