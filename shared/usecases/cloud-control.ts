import { type CloudReservation, CloudState, isFinalCloud } from "../domain/cloud-reservation.ts";
import { BerthError, ErrorCode } from "../domain/errors.ts";
import type { Job } from "../domain/job.ts";
import { hasCloud, withdraw } from "./cloud-handoff.ts";
import type { JobDeps } from "./jobs.ts";

/**
 * Cancel of a job that went to the cloud (the job is already `Canceled`). Nothing launched yet: the
 * reservation is withdrawn (a worker that launches it anyway finds it canceled and stops its task). A task
 * already launched: the reservation goes `stopping` and the task is stopped; if the launcher cannot be
 * reached now, the reconciler asks again until the task's end is seen.
 */
export async function cancelCloudWork(deps: JobDeps, job: Job, reason: string): Promise<void> {
  let r = job.cloudReservationId ? await deps.repos.cloudReservations.get(job.cloudReservationId) : undefined;
  for (let attempt = 0; r && attempt < 10; attempt++) {
    if (isFinalCloud(r.state) || r.state === CloudState.stopping) return;
    if (!r.task) {
      await withdraw(deps, r, reason);
      return;
    }
    const now = deps.clock.now().toISOString();
    // The worker recording its task, or an event, may change it first: decide again.
    const stopping = await deps.repos.cloudReservations.update(
      r,
      { state: CloudState.stopping, controlRequested: "kill", stopRequestedAt: now },
      now,
    );
    if (stopping) {
      await askToStop(deps, stopping, reason, "kill").catch((err: Error) =>
        deps.logger.warn("could not stop a canceled job's task; the reconciler will try again", {
          reservationId: stopping.id,
          error: err.message,
        }),
      );
      return;
    }
    r = await deps.repos.cloudReservations.get(r.id);
  }
}

/**
 * Stop, kill or expiry of a job running in the cloud: what was asked is recorded on the reservation first
 * (so the task's end is read as a stop, a kill or an expiry), then the launcher stops the task. ECS sends
 * SIGTERM, then SIGKILL after the task's stop timeout, for both stop and kill; Kubernetes deletes the Job
 * (with no grace period for a kill). The job ends when the task's end is reported.
 */
export async function stopCloudJob(
  deps: JobDeps,
  job: Job,
  how: "stop" | "kill" | "expire",
  reason: string,
): Promise<CloudReservation> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const r = job.cloudReservationId
      ? await deps.repos.cloudReservations.get(job.cloudReservationId)
      : undefined;
    if (!r || isFinalCloud(r.state) || !r.task) {
      throw new BerthError(ErrorCode.JobControlFailure, `job ${job.id} has no running cloud task to ${how}`);
    }
    const now = deps.clock.now().toISOString();
    // A stop racing a kill (or the reconciler's expiry): the last one asked is the one recorded.
    const asked = await deps.repos.cloudReservations.update(
      r,
      { controlRequested: how, stopRequestedAt: now },
      now,
    );
    if (!asked) continue;
    try {
      await askToStop(deps, asked, reason, how === "stop" ? "stop" : "kill");
    } catch (err) {
      throw new BerthError(
        ErrorCode.JobControlFailure,
        `could not ask ${r.launcher.toUpperCase()} to stop the task (${(err as Error).message}); try again`,
      );
    }
    return asked;
  }
  throw new BerthError(ErrorCode.JobControlFailure, `job ${job.id} kept changing; try again`);
}

/** Asks the reservation's launcher to stop its task. */
export async function askToStop(deps: JobDeps, r: CloudReservation, reason: string, how: "stop" | "kill") {
  const launcher = hasCloud(deps) ? deps.cloud.launchers[r.launcher] : undefined;
  if (!launcher) throw new Error(`${r.launcher.toUpperCase()} is not configured here`);
  if (r.task) await launcher.stop(r.task, reason, how);
}
