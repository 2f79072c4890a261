import { z } from "zod";
import { TaskNetwork } from "./job-network.ts";
import { type Patch, stateMachine, type Transition } from "./state-machine.ts";

/**
 * A job on cloud capacity is carried by a cloud reservation (specs/cloud.md): `queued` until the provision
 * worker takes it (`launching`), `launched` once a task exists (waiting for an instance), `running` when its
 * container started, then `stopped` (the task ended; the job's status says how), `failed` (it could not be
 * launched) or `canceled` (withdrawn before anything was launched). A job canceled after its task was
 * launched leaves the reservation `stopping` until the task's end is seen (the reconciler repeats the stop
 * until it is). Every write is conditional on `version`.
 *
 * `attempt` numbers launches: the ECS `clientToken` and the Kubernetes Job name are derived from
 * `id + attempt`, so a retried message finds the task the first try made instead of starting another. A
 * launch that found no capacity goes back to `queued` with the next attempt (a fresh token).
 */
export const CloudState = {
  queued: "queued",
  launching: "launching",
  launched: "launched",
  running: "running",
  stopping: "stopping",
  stopped: "stopped",
  failed: "failed",
  canceled: "canceled",
} as const;
export type CloudState = (typeof CloudState)[keyof typeof CloudState];
export const CLOUD_STATES = Object.values(CloudState) as [CloudState, ...CloudState[]];

const S = CloudState;
/**
 * Events may overtake the worker's own record of the task (launching → running, launching → stopped).
 * `canceled → stopping` and `failed → stopping` are the moves out of a final state: a launch that was under
 * way when the job was canceled (or failed), found when the worker records its task, which must then be
 * stopped.
 */
export const CLOUD_TRANSITIONS = {
  queued: [S.launching, S.failed, S.canceled],
  launching: [S.queued, S.launched, S.running, S.stopping, S.stopped, S.failed, S.canceled],
  launched: [S.running, S.stopping, S.stopped, S.failed],
  running: [S.stopping, S.stopped, S.failed],
  stopping: [S.stopped],
  stopped: [],
  failed: [S.stopping],
  canceled: [S.stopping],
} as const satisfies Record<CloudState, readonly CloudState[]>;

export const CloudMachine = stateMachine<CloudState>("cloud reservation", CLOUD_TRANSITIONS, [
  S.stopped,
  S.failed,
  S.canceled,
]);
export const isFinalCloud = (s: CloudState): boolean => CloudMachine.isFinal(s);
export const canMoveCloud = (from: CloudState, to: CloudState): boolean => CloudMachine.canMove(from, to);

export const LAUNCHERS = ["ecs", "eks"] as const;
export type LauncherKind = (typeof LAUNCHERS)[number];

/** Where a launched task is: an ECS task ARN, or a Kubernetes Job's namespace and name. */
export const TaskRef = z.object({
  launcher: z.enum(LAUNCHERS),
  /** ECS task ARN, or `<namespace>/<job name>` on EKS. */
  id: z.string(),
});
export type TaskRef = z.infer<typeof TaskRef>;

export const CloudReservation = z.object({
  id: z.string(),
  workspaceId: z.string(),
  jobId: z.string(),
  launcher: z.enum(LAUNCHERS),
  attempt: z.number().int().positive(),
  state: z.enum(CLOUD_STATES),
  version: z.number().int(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
  task: TaskRef.optional(),
  /** The task's own change counter (ECS `version`) last applied: older or repeated news is dropped. */
  taskVersion: z.number().int().optional(),
  /** The task's last status as the launcher reported it (e.g. PROVISIONING, RUNNING, STOPPED). */
  lastStatus: z.string().optional(),
  /** Last time an event or the reconciler told us about the task. */
  observedAt: z.iso.datetime().optional(),
  startedAt: z.iso.datetime().optional(),
  /** Launches that found no capacity so far. */
  capacityRetries: z.number().int().default(0),
  /** Times the reconciler enqueued it again while it stayed `launching` (a worker that kept dying). */
  requeues: z.number().int().default(0),
  /** A stop the user (or the job's maxDuration) asked for, so the task's end is read correctly. */
  controlRequested: z.enum(["stop", "kill", "expire"]).optional(),
  /** When the last stop was asked of the launcher (the reconciler asks again if the task lives on). */
  stopRequestedAt: z.iso.datetime().optional(),
  /** Why it failed or was canceled. */
  reason: z.string().optional(),
  /** Where its running task is (host, IPs, ports), resolved once by the first network request. */
  network: TaskNetwork.optional(),
});
export type CloudReservation = z.infer<typeof CloudReservation>;

/**
 * What a launcher says about a task, whatever the launcher: ECS events and DescribeTasks, Kubernetes Job
 * status. `phase` only moves forward (pending → running → stopped); `version` orders reports of one phase.
 */
export const TaskPhase = { pending: "pending", running: "running", stopped: "stopped" } as const;
export type TaskPhase = (typeof TaskPhase)[keyof typeof TaskPhase];
const PHASE_RANK: Record<TaskPhase, number> = { pending: 0, running: 1, stopped: 2 };

export interface TaskObservation {
  phase: TaskPhase;
  /** The launcher's own status word, kept for people (PROVISIONING, RUNNING, STOPPED, Complete...). */
  lastStatus: string;
  version?: number;
  /** When the container started, if it did. */
  startedAt?: string;
  /** The container's exit code, once stopped, when it ran. */
  exitCode?: number;
  /** Why it stopped (ECS stoppedReason / container reason, Kubernetes condition message). */
  reason?: string;
  /** The task never got to run its container (pull failure, no resources, deleted before start...). */
  neverStarted?: boolean;
  /** The image could not be pulled. */
  pullFailed?: boolean;
  /** The launcher stopped it at its deadline (a Kubernetes Job's activeDeadlineSeconds). */
  expired?: boolean;
  /** The launcher no longer knows the task (ECS forgets stopped tasks after about an hour). */
  missing?: boolean;
}

/**
 * Whether a report is news: a later phase, or the same phase with a higher version. Duplicates and
 * reports overtaken by a newer one are dropped.
 */
export function isNews(r: Pick<CloudReservation, "state" | "taskVersion">, o: TaskObservation): boolean {
  if (isFinalCloud(r.state)) return false;
  if (r.state === S.stopping) return o.phase === "stopped";
  const current = r.state === S.running ? 1 : 0;
  const rank = PHASE_RANK[o.phase];
  if (rank !== current) return rank > current;
  if (o.version === undefined) return r.state === S.launching;
  return r.taskVersion === undefined || o.version > r.taskVersion;
}

/** ECS `clientToken` (≤ 64 characters) and the like: one per reservation and attempt. */
export const launchToken = (r: Pick<CloudReservation, "id" | "attempt">) => `${r.id}:${r.attempt}`;

/** Kubernetes Job name (lower case, ≤ 63 characters): deterministic per reservation and attempt. */
export const kubernetesJobName = (r: Pick<CloudReservation, "id" | "attempt">) => `res-${r.id}-${r.attempt}`;

/** What a cloud reservation write may change besides its state. */
export type CloudPatch = Patch<
  Omit<CloudReservation, "id" | "workspaceId" | "jobId" | "state" | "version" | "createdAt" | "updatedAt">
>;
export type CloudTransition = Transition<CloudState, CloudPatch>;
export type CloudChange = CloudPatch | CloudTransition;

/** Moves a cloud reservation to `to` (checked against CLOUD_TRANSITIONS), with `patch`. */
export const moveCloud = (
  r: Pick<CloudReservation, "state">,
  to: CloudState,
  patch: CloudPatch = {},
): CloudTransition => CloudMachine.transition(r.state, to, patch);
