import { cloudOutcome } from "../domain/cloud-outcome.ts";
import {
  type CloudReservation,
  CloudState,
  canMoveCloud,
  isFinalCloud,
  isNews,
  type TaskObservation,
  type TaskRef,
} from "../domain/cloud-reservation.ts";
import { isFinalJob, JobStatus, StatusCode } from "../domain/job.ts";
import type { CloudJobDeps } from "./cloud-handoff.ts";
import { recordJobEvent } from "./job-events.ts";
import { finishJob, updateJob } from "./job-lifecycle.ts";

/** A task's name for people: the last part of an ECS ARN, or the Kubernetes Job's name. */
export const shortTask = (t: TaskRef) => `${t.launcher.toUpperCase()} task ${t.id.split("/").at(-1)}`;

export type Applied = "applied" | "stale" | "unknown";

/**
 * Applies news of a reservation's task (an ECS event, a DescribeTasks answer, a Kubernetes Job status) to
 * the reservation and then its job. Reports are ordered by phase and version (specs/cloud.md): duplicates
 * and reports overtaken by a newer one change nothing ("stale"). The reservation write is conditional on
 * its version, so an event and the reconciler reporting the same change at once apply it once; only the
 * writer that won moves the job.
 */
export async function applyObservation(
  deps: CloudJobDeps,
  reservationId: string,
  task: TaskRef,
  o: TaskObservation,
): Promise<Applied> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const r = await deps.repos.cloudReservations.get(reservationId);
    if (!r) return "unknown";
    // Another attempt's task (an earlier launch that found no capacity, or an orphan): not this one's.
    if (r.task && r.task.id !== task.id) return "unknown";
    if (!isNews(r, o) && !(o.missing && !isFinalCloud(r.state))) return "stale";
    const now = deps.clock.now().toISOString();
    const state =
      o.missing || o.phase === "stopped"
        ? CloudState.stopped
        : o.phase === "running"
          ? CloudState.running
          : CloudState.launched;
    // A move the state machine does not allow (a report for a reservation gone back to `queued`): not news.
    if (state !== r.state && !canMoveCloud(r.state, state)) return "stale";
    // An event and the reconciler (or two deliveries of one event) reporting at once: one applies it.
    const updated = await deps.repos.cloudReservations.update(
      r,
      {
        state,
        task,
        lastStatus: o.lastStatus,
        observedAt: now,
        ...(o.version !== undefined ? { taskVersion: o.version } : {}),
        ...(o.startedAt && !r.startedAt ? { startedAt: o.startedAt } : {}),
      },
      now,
    );
    if (!updated) continue; // someone else applied a report first: look again
    await moveJob(deps, updated, o);
    return "applied";
  }
  throw new Error(`cloud reservation ${reservationId} kept changing`);
}

/** The job side of a task report. */
async function moveJob(deps: CloudJobDeps, r: CloudReservation, o: TaskObservation) {
  const job = await deps.repos.jobs.get(r.jobId);
  if (!job || job.cloudReservationId !== r.id || isFinalJob(job.status)) return;
  const task = r.task!;
  if (r.state === CloudState.stopped) {
    const end = cloudOutcome(r, o, job.maxDuration);
    const event =
      end.status === JobStatus.Finished ? "exited" : end.status === JobStatus.Killed ? "killed" : "failed";
    await finishJob(deps, job.id, end, event);
    return;
  }
  if (r.state === CloudState.running) {
    let started = false;
    const moved = await updateJob(deps, job.id, (j) => {
      started = false;
      if (j.status !== JobStatus.Pending || j.cloudReservationId !== r.id) return undefined;
      started = true;
      return {
        status: JobStatus.Running,
        statusCode: StatusCode.Started,
        statusMessage: `running on ${shortTask(task)}`,
      };
    });
    if (started && moved) await recordJobEvent(deps, moved, "started", moved.statusMessage);
    return;
  }
  const message = `${shortTask(task)} is ${o.lastStatus}: waiting for an instance`;
  await updateJob(deps, job.id, (j) =>
    j.status === JobStatus.Pending && j.cloudReservationId === r.id && j.statusMessage !== message
      ? { statusCode: StatusCode.Provisioning, statusMessage: message }
      : undefined,
  );
}
