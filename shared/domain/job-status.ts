import { stateMachine } from "./state-machine.ts";

// Without zod: the dashboard shows the same statuses and operation rules as the API, without its schemas.

/** Job statuses, exactly as the Launcher spells them (jobs.md §2). */
export const JobStatus = {
  Pending: "Pending",
  Running: "Running",
  Suspended: "Suspended",
  Finished: "Finished",
  Failed: "Failed",
  Killed: "Killed",
  Canceled: "Canceled",
} as const;
export type JobStatus = (typeof JobStatus)[keyof typeof JobStatus];
export const JOB_STATUSES = Object.values(JobStatus) as [JobStatus, ...JobStatus[]];

const S = JobStatus;
/**
 * Allowed moves. A fast program may finish before its start is recorded (Pending → Finished); a placed
 * job whose node is lost or whose start fails goes Pending → Failed.
 */
export const JOB_TRANSITIONS = {
  Pending: [S.Running, S.Finished, S.Failed, S.Killed, S.Canceled],
  Running: [S.Suspended, S.Finished, S.Failed, S.Killed],
  Suspended: [S.Running, S.Finished, S.Failed, S.Killed],
  Finished: [],
  Failed: [],
  Killed: [],
  Canceled: [],
} as const satisfies Record<JobStatus, readonly JobStatus[]>;

export const JobMachine = stateMachine<JobStatus>("job", JOB_TRANSITIONS);
export const isFinalJob = (s: JobStatus): boolean => JobMachine.isFinal(s);
export const canMoveJob = (from: JobStatus, to: JobStatus): boolean => JobMachine.canMove(from, to);

/** Stable reason codes in `statusCode`. */
export const StatusCode = {
  NoCapacity: "NoCapacity",
  NeverFits: "NeverFits",
  Placed: "Placed",
  Started: "Started",
  Exited: "Exited",
  LaunchFailed: "LaunchFailed",
  ImagePullFailed: "ImagePullFailed",
  NodeLost: "NodeLost",
  UserStop: "UserStop",
  UserKill: "UserKill",
  UserCancel: "UserCancel",
  UserSuspend: "UserSuspend",
  UserResume: "UserResume",
  Expired: "Expired",
  /** Handed to cloud capacity, waiting for the provision worker. */
  Queued: "Queued",
  /** A cloud task exists and waits for an instance (or is pulling its image). */
  Provisioning: "Provisioning",
  /** The provision worker kept failing on it (its message went to the dead-letter queue). */
  ProvisioningFailed: "ProvisioningFailed",
  /** A secret the job uses was deleted before the job was placed. */
  SecretMissing: "SecretMissing",
} as const;

/**
 * Control operations (jobs.md §3): the statuses each may be applied in. Stop and kill work on a suspended
 * job too, as Slurm's scancel does (the node resumes it so it can act on SIGTERM; SIGKILL needs no resume).
 */
export const JOB_OPERATIONS = {
  suspend: [S.Running],
  resume: [S.Suspended],
  stop: [S.Running, S.Suspended],
  kill: [S.Running, S.Suspended],
  cancel: [S.Pending],
} as const satisfies Record<string, readonly JobStatus[]>;
export type JobOperation = keyof typeof JOB_OPERATIONS;
export const JOB_OPERATION_NAMES = Object.keys(JOB_OPERATIONS) as [JobOperation, ...JobOperation[]];

/** Whether `op` may be applied to a job in `status`. */
export const operationAllowed = (op: JobOperation, status: JobStatus): boolean =>
  (JOB_OPERATIONS[op] as readonly JobStatus[]).includes(status);
