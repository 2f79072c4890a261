import type { LauncherKind, TaskObservation, TaskRef } from "../domain/cloud-reservation.ts";
import type { TaskNetwork } from "../domain/job-network.ts";

/** What a launch needs to know of a job (built from the job and its cloud reservation). */
export interface LaunchRequest {
  reservationId: string;
  attempt: number;
  workspaceId: string;
  jobId: string;
  /** The container image; the launcher's default image when absent. */
  image?: string;
  /** The program and its arguments; empty = the image's own command. */
  command: string[];
  environment: { name: string; value: string }[];
  workingDirectory?: string;
  gpus: { count: number; type?: string };
  constraints: { name: string; value?: string }[];
  /** Seconds the job may run. */
  maxDuration: number;
  /** Its resource limits (specs/launcher-extras.md §4): CPUs and memory in MiB, each when it has one. */
  limits?: { cpus?: number; memoryMiB?: number };
}

export type LaunchResult =
  /** A task exists for this reservation and attempt (just started, or found: the same token again). */
  | { kind: "launched"; task: TaskRef; observation?: TaskObservation }
  /** Nothing was started because there is no capacity for it now: worth trying again later. */
  | { kind: "noCapacity"; reason: string }
  /** Nothing was started and trying again will not help (bad image, bad configuration, no permission). */
  | { kind: "rejected"; reason: string };

/** A launcher call that failed in a way worth retrying as it is (throttled, unavailable, network). */
export class TransientLaunchError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "TransientLaunchError";
  }
}

/**
 * Starts, follows and stops work on one kind of cloud capacity (ECS tasks on EC2 GPU instances, or
 * Kubernetes Jobs on EKS). `launch` must be idempotent per (reservationId, attempt): the same call again
 * finds the task the first one started. Methods throw TransientLaunchError for retryable failures.
 */
export interface TaskLauncher {
  readonly kind: LauncherKind;
  launch(request: LaunchRequest): Promise<LaunchResult>;
  /** The tasks' current state, by task id; a task the launcher no longer knows comes back `missing`. */
  observe(tasks: TaskRef[]): Promise<Map<string, TaskObservation>>;
  /** Asks the task to stop (`kill`: as fast as the launcher can). Stopping a task already gone is a no-op. */
  stop(task: TaskRef, reason: string, how: "stop" | "kill"): Promise<void>;
  /**
   * The task's output after `cursor` (from the start when undefined), as lines, and the cursor to read on
   * from. Absent when the launcher keeps no output.
   */
  output?(task: TaskRef, cursor?: string): Promise<{ lines: string[]; cursor?: string }>;
  /**
   * Where a running task is (specs/launcher-extras.md §2): its host, IPs, endpoints and published ports, and
   * what this launcher can never find (`missing`); kept for the task once answered. Undefined while it is not
   * settled (no task, not scheduled, no IP yet). Absent: not supported.
   */
  network?(task: TaskRef): Promise<Omit<TaskNetwork, "taskId"> | undefined>;
}

/** The provision queue: a message says "look at cloud reservation X, attempt N", never more. */
export interface ProvisionQueue {
  send(message: { reservationId: string; attempt: number }, delaySeconds?: number): Promise<void>;
}

/** What the cloud use cases need, when cloud capacity is configured. */
export interface CloudDeps {
  launchers: Partial<Record<LauncherKind, TaskLauncher>>;
  /** The launcher jobs use unless their profile names another. */
  defaultLauncher: LauncherKind;
  queue: ProvisionQueue;
  settings: CloudSettings;
  /** The GPU families cloud capacity offers (cluster info): a name and the `gpus.type` that picks it. */
  families?: { name: string; gpuType: string }[];
  /** The image cloud jobs that name none run, when the host knows it. */
  defaultImage?: string;
}

export interface CloudSettings {
  /** A queued reservation older than this is enqueued again (a hand-off whose message was lost). */
  requeueAfterSeconds: number;
  /** A launching or running task not heard of for this long is looked up by the reconciler. */
  quietSeconds: number;
  /** Launches that may find no capacity before the job fails with NoCapacity. */
  capacityRetries: number;
  /** First delay before a launch that found no capacity is tried again; doubles each time (≤ 900 s). */
  capacityRetryBaseSeconds: number;
  /** Receives of one provision message before it goes to the dead-letter queue. */
  maxReceives: number;
}
