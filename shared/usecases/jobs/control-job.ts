import type { JobView } from "../../contracts/jobs.ts";
import { BerthError, ErrorCode, invalidRequest } from "../../domain/errors.ts";
import {
  invalidJobState,
  type Job,
  type JobChange,
  type JobOperation,
  JobStatus,
  moveJob,
  operationAllowed,
  StatusCode,
} from "../../domain/job.ts";
import type { UserPrincipal } from "../../domain/principal.ts";
import { cancelCloudWork, stopCloudJob } from "../cloud/cloud-control.ts";
import { removeReservation, sendControl } from "../feed/reservations.ts";
import { done, lost, mutate } from "../mutate.ts";
import { recordJobEvent } from "./job-events.ts";
import { finishJob } from "./job-update.ts";
import { type JobDeps, jobNotFound as jobNotFoundError, jobView, visibleJob } from "./jobs.ts";

const EVENTS = {
  suspend: "suspended",
  resume: "resumed",
  stop: "stop-requested",
  kill: "kill-requested",
} as const;

/**
 * `POST /api/v1/jobs/{id}/control` (jobs.md §3). Each operation is allowed only from its required status
 * (409 InvalidJobState with the Launcher's message otherwise). Suspend and resume take effect at once
 * (SIGSTOP/SIGCONT on the node); stop and kill are sent to the node and the job ends when the node reports
 * its exit (Finished with 143 after a stop, Killed after a kill); cancel withdraws a pending job.
 */
export async function controlJob(
  deps: JobDeps,
  user: UserPrincipal,
  id: string,
  op: JobOperation,
): Promise<JobView> {
  if (id === "*")
    throw invalidRequest("job id * (all jobs) is not allowed for control operations; name one job");
  return jobView(await applyControl(deps, await visibleJob(deps, user, id), op, user.name));
}

/**
 * Applies a control operation to a job on behalf of `by` (a user's name, or what the control plane does
 * itself, e.g. a drain's deadline). Returns the job as it is after.
 */
export async function applyControl(deps: JobDeps, job: Job, op: JobOperation, by: string): Promise<Job> {
  const id = job.id;
  if (!operationAllowed(op, job.status)) throw invalidJobState(op, job.status);
  if (job.cloudReservationId && (op === "suspend" || op === "resume")) {
    throw new BerthError(
      ErrorCode.RequestNotSupported,
      `${op} is not supported for cloud jobs (ECS cannot pause a task)`,
    );
  }
  if (op === "cancel") {
    // As it was when it ended: a placement (or a hand-off to the cloud) may have landed since it was read.
    const canceled = (await finishJob(deps, id, { reason: "canceled", by })) ?? job;
    // In the cloud: withdraw it, or stop the task it already has.
    await cancelCloudWork(deps, canceled, `canceled by ${by}`);
    // Placed but not started: the node must never start it (or stops it, if it just did).
    const r =
      canceled.reservationId && canceled.deviceId
        ? await deps.repos.reservations.get(canceled.deviceId, canceled.reservationId)
        : undefined;
    if (r) await removeReservation(deps, r, "toDelete");
    return canceled;
  }

  let how = "";
  if (job.cloudReservationId && (op === "stop" || op === "kill")) {
    const r = await stopCloudJob(deps, job, op, `${op} requested by ${by}`);
    how =
      r.launcher === "ecs" ? "StopTask: SIGTERM, then SIGKILL after the task's stop timeout" : "Job deleted";
  } else {
    const r =
      job.reservationId && job.deviceId
        ? await deps.repos.reservations.get(job.deviceId, job.reservationId)
        : undefined;
    if (!r) throw new BerthError(ErrorCode.JobControlFailure, `job ${id} has no workload on a node to ${op}`);
    await sendControl(deps, r, op);
    const grace = (JSON.parse(r.data) as { stopGracePeriodSeconds?: number }).stopGracePeriodSeconds ?? 10;
    how = `SIGTERM, then SIGKILL after ${grace} s`;
  }
  const changes: Record<Exclude<JobOperation, "cancel">, (j: Job) => JobChange> = {
    suspend: (j) =>
      moveJob(j, JobStatus.Suspended, {
        statusCode: StatusCode.UserSuspend,
        statusMessage: `suspended by ${by}`,
      }),
    resume: (j) =>
      moveJob(j, JobStatus.Running, {
        statusCode: StatusCode.UserResume,
        statusMessage: `resumed by ${by}`,
      }),
    stop: () => ({
      controlRequested: "stop",
      statusCode: StatusCode.UserStop,
      statusMessage: `stop requested by ${by}: ${how}`,
    }),
    kill: () => ({
      controlRequested: "kill",
      statusCode: StatusCode.UserKill,
      statusMessage: `kill requested by ${by}`,
    }),
  };
  const updated = await mutate({
    what: `job ${id}`,
    current: job,
    read: () => deps.repos.jobs.get(id),
    async attempt(current) {
      if (!current) throw jobNotFoundError(id);
      if (!operationAllowed(op, current.status)) throw invalidJobState(op, current.status);
      const saved = await deps.repos.jobs.save(current, changes[op](current), deps.clock.now().toISOString());
      return saved.ok ? done(saved.value) : lost(saved);
    },
  });
  await recordJobEvent(deps, updated, EVENTS[op], updated.statusMessage);
  return updated;
}
