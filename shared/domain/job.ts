import { z } from "zod";
import { LAUNCHERS } from "./cloud-reservation.ts";
import { BerthError, ErrorCode } from "./errors.ts";
import type { Patch, Transition } from "./state-machine.ts";

export * from "./job-status.ts";

import { JOB_OPERATIONS, JOB_STATUSES, JobMachine, type JobOperation, type JobStatus } from "./job-status.ts";

/** 409 InvalidJobState with the Launcher's message, e.g. "Job must be Running to Suspend it (current status: Pending)". */
export function invalidJobState(op: JobOperation, current: JobStatus): BerthError {
  const verb = op[0]!.toUpperCase() + op.slice(1);
  return new BerthError(
    ErrorCode.InvalidJobState,
    `Job must be ${JOB_OPERATIONS[op].join(" or ")} to ${verb} it (current status: ${current})`,
    { required: JOB_OPERATIONS[op].join(" or "), current },
  );
}

export const Env = z.object({ name: z.string(), value: z.string() });
export const Mount = z.object({
  mountPath: z.string(),
  readOnly: z.boolean().optional(),
  mountSource: z.object({ type: z.string(), source: z.unknown() }),
});
export const Port = z.object({
  targetPort: z.number().int(),
  publishedPort: z.number().int().optional(),
  protocol: z.string(),
});
export const Container = z.object({
  image: z.string(),
  runAsUserId: z.number().int().optional(),
  runAsGroupId: z.number().int().optional(),
  supplementalGroupIds: z.array(z.number().int()).optional(),
});
export const Gpus = z.object({
  count: z.number().int(),
  type: z.string().optional(),
  memoryGiB: z.number().optional(),
});
export const Constraint = z.object({ name: z.string(), value: z.string().optional() });
export const ResourceLimit = z.object({
  type: z.string(),
  value: z.string().optional(),
  defaultValue: z.string().optional(),
  maxValue: z.string().optional(),
});
export const JOB_TARGETS = ["fleet", "cloud", "auto"] as const;

/**
 * What happens to a running job whose device goes silent (Nomad's `disconnect`): it is `Failed / NodeLost`
 * only once the device has been silent for `lostAfterSeconds` while the control plane was up; with
 * `replace`, a copy of it is submitted then (a new job, `replacementOf` the lost one).
 */
export const Disconnect = z.object({ lostAfterSeconds: z.number().int(), replace: z.boolean() });
export type Disconnect = z.infer<typeof Disconnect>;

export const LAB_KINDS = ["lab", "fileserver"] as const;
export type LabKind = (typeof LAB_KINDS)[number];

/** What a lab's job carries besides the Launcher fields (bookkeeping: never shown as part of the job). */
export const JobLab = z.object({
  kind: z.enum(LAB_KINDS),
  user: z.string(),
  port: z.number().int(),
  readinessPath: z.string(),
  readinessTimeoutSeconds: z.number().int(),
  spawnTimeoutSeconds: z.number().int(),
  /** Seconds between SIGTERM and SIGKILL when it is stopped (Kubespawner's 1 s by default). */
  graceSeconds: z.number().int(),
  /** BERTH_LAB_TOKEN, encrypted with the workspace's data key (AAD `lab:<ws>:<job>`). */
  token: z.object({ keyId: z.string(), ciphertext: z.string() }),
  /** Set from the agent's reports: the port Docker (or the agent) chose on the device, and when it answered. */
  hostPort: z.number().int().optional(),
  readyAt: z.string().optional(),
});
export type JobLab = z.infer<typeof JobLab>;

export const labTokenAad = (workspaceId: string, jobId: string) => `lab:${workspaceId}:${jobId}`;

/** A job as stored: the Launcher job object (jobs.md §1) plus Berth's bookkeeping. */
export const Job = z.object({
  id: z.string(),
  workspaceId: z.string(),
  name: z.string(),
  /** Who submitted it, as shown (the API key's name; Launcher's `user`). Not an identity: names repeat. */
  user: z.string(),
  /**
   * The API key that submitted it: what a member key's access is checked against. Absent on jobs stored
   * before ownership by key id (those are visible to admin keys only).
   */
  ownerKeyId: z.string().optional(),
  group: z.string().optional(),
  queues: z.array(z.string()),
  workingDirectory: z.string().optional(),
  container: Container.optional(),
  host: z.string().optional(),
  status: z.enum(JOB_STATUSES),
  statusMessage: z.string(),
  statusCode: z.string().optional(),
  pid: z.number().int().optional(),
  exitCode: z.number().int().optional(),
  command: z.string().optional(),
  exe: z.string().optional(),
  args: z.array(z.string()),
  stdin: z.string().optional(),
  environment: z.array(Env),
  secrets: z.array(
    z.object({
      name: z.string(),
      namespace: z.string().optional(),
      env: z.string().optional(),
      path: z.string().optional(),
    }),
  ),
  placementConstraints: z.array(Constraint),
  submissionTime: z.iso.datetime(),
  lastUpdateTime: z.iso.datetime(),
  exposedPorts: z.array(Port),
  mounts: z.array(Mount),
  config: z.array(
    z.object({ name: z.string(), valueType: z.string().optional(), value: z.string().optional() }),
  ),
  resourceLimits: z.array(ResourceLimit),
  gpus: Gpus,
  tags: z.array(z.string()),
  metadata: z.record(z.string(), z.unknown()),
  resourceProfile: z.string(),
  target: z.enum(JOB_TARGETS),
  /** Seconds the job may run (its reservation's duration). */
  maxDuration: z.number().int(),
  /** Its disconnect policy (absent on jobs stored before it existed: the control plane's default). */
  disconnect: Disconnect.optional(),
  /** CPUs and memory it asks for, placed against what a device has and its running jobs hold. */
  cpus: z.number().optional(),
  memoryGiB: z.number().optional(),
  /** The job this one replaces (its device was lost), and the job that replaced this one. */
  replacementOf: z.string().optional(),
  replacedBy: z.string().optional(),
  // Bookkeeping (not part of the Launcher object).
  version: z.number().int(),
  deviceId: z.string().optional(),
  reservationId: z.string().optional(),
  /** The cloud reservation carrying the job, when it went to cloud capacity. */
  cloudReservationId: z.string().optional(),
  /** The cloud capacity its profile asks for (the control plane's default when absent). */
  cloudLauncher: z.enum(LAUNCHERS).optional(),
  allocatedGpus: z.array(z.number().int()),
  /** CPUs and memory claimed on its device with its GPUs (absent: placed before such claims existed). */
  held: z.object({ cpus: z.number(), memoryGiB: z.number() }).optional(),
  /** A stop or kill sent to the node and not yet answered by the job's end. */
  controlRequested: z.enum(["stop", "kill"]).optional(),
  /** Quota held by the job until its end (released once). */
  quotaHeld: z.boolean(),
  /** The lab (specs/labs.md) this job runs, when it runs one. */
  lab: JobLab.optional(),
});
export type Job = z.infer<typeof Job>;

/** Fields that are Berth's bookkeeping, not the Launcher job object. */
export const JOB_INTERNAL_FIELDS = [
  "workspaceId",
  "version",
  "ownerKeyId",
  "deviceId",
  "reservationId",
  "cloudReservationId",
  "cloudLauncher",
  "allocatedGpus",
  "held",
  "controlRequested",
  "quotaHeld",
  "lab",
] as const;

/** What a job update may change besides its status: identity, status and bookkeeping of writes excluded. */
export type JobPatch = Patch<
  Omit<Job, "id" | "workspaceId" | "status" | "version" | "submissionTime" | "lastUpdateTime">
>;
/** A job's status move (the only way `status` is written), with the fields that change with it. */
export type JobTransition = Transition<JobStatus, JobPatch>;
export type JobChange = JobPatch | JobTransition;

/** Moves a job to `to` (checked against JOB_TRANSITIONS), with `patch`. */
export const moveJob = (job: Pick<Job, "status">, to: JobStatus, patch: JobPatch = {}): JobTransition =>
  JobMachine.transition(job.status, to, patch);

/** One step of a job's lifecycle (accepted, placed, started, exited...), ordered by its time-sortable id. */
export const JobEvent = z.object({
  id: z.string(),
  type: z.string().meta({ example: "placed" }),
  message: z.string(),
  status: z.enum(JOB_STATUSES),
  at: z.string(),
});
export type JobEvent = z.infer<typeof JobEvent>;
