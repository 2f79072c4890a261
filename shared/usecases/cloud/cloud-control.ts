import {
  type CloudReservation,
  CloudState,
  isFinalCloud,
  moveCloud,
} from "../../domain/cloud-reservation.ts";
import { BerthError, ErrorCode } from "../../domain/errors.ts";
import type { Job } from "../../domain/job.ts";
import { hasCloud, type JobDeps } from "../deps.ts";
import { done, lost, mutate } from "../mutate.ts";
import { withdraw } from "./cloud-handoff.ts";

/**
 * Cancel of a job that went to the cloud (the job is already `Canceled`). Nothing launched yet: the
 * reservation is withdrawn (a worker that launches it anyway finds it canceled and stops its task). A task
 * already launched: the reservation goes `stopping` and the task is stopped; if the launcher cannot be
 * reached now, the reconciler asks again until the task's end is seen.
 */
export async function cancelCloudWork(deps: JobDeps, job: Job, reason: string): Promise<void> {
  if (!job.cloudReservationId) return;
  const id = job.cloudReservationId;
  const stopping = await mutate({
    what: `cloud reservation ${id}`,
    read: () => deps.repos.cloudReservations.get(id),
    async attempt(r) {
      if (!r || isFinalCloud(r.state) || r.state === CloudState.stopping) return done(undefined);
      if (!r.task) {
        await withdraw(deps, r, reason);
        return done(undefined);
      }
      const now = deps.clock.now().toISOString();
      // The worker recording its task, or an event, may change it first: decide again.
      const saved = await deps.repos.cloudReservations.save(
        r,
        moveCloud(r, CloudState.stopping, { controlRequested: "kill", stopRequestedAt: now }),
        now,
      );
      return saved.ok ? done(saved.value) : lost(saved);
    },
  });
  if (!stopping) return;
  await askToStop(deps, stopping, reason, "kill").catch((err: Error) =>
    deps.logger.warn("could not stop a canceled job's task; the reconciler will try again", {
      reservationId: stopping.id,
      error: err.message,
    }),
  );
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
  const id = job.cloudReservationId;
  const asked = await mutate({
    what: `cloud reservation ${id}`,
    read: async () => (id ? deps.repos.cloudReservations.get(id) : undefined),
    async attempt(r) {
      if (!r || isFinalCloud(r.state) || !r.task) {
        throw new BerthError(
          ErrorCode.JobControlFailure,
          `job ${job.id} has no running cloud task to ${how}`,
        );
      }
      const now = deps.clock.now().toISOString();
      // A stop racing a kill (or the reconciler's expiry): the last one asked is the one recorded.
      const saved = await deps.repos.cloudReservations.save(
        r,
        { controlRequested: how, stopRequestedAt: now },
        now,
      );
      return saved.ok ? done(saved.value) : lost(saved);
    },
  });
  try {
    await askToStop(deps, asked, reason, how === "stop" ? "stop" : "kill");
  } catch (err) {
    throw new BerthError(
      ErrorCode.JobControlFailure,
      `could not ask ${asked.launcher.toUpperCase()} to stop the task (${(err as Error).message}); try again`,
    );
  }
  return asked;
}

/** Asks the reservation's launcher to stop its task. */
export async function askToStop(deps: JobDeps, r: CloudReservation, reason: string, how: "stop" | "kill") {
  const launcher = hasCloud(deps) ? deps.cloud.launchers[r.launcher] : undefined;
  if (!launcher) throw new Error(`${r.launcher.toUpperCase()} is not configured here`);
  if (r.task) await launcher.stop(r.task, reason, how);
}
