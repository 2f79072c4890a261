import { cloudOutcome } from "../../domain/cloud-outcome.ts";
import {
  type CloudReservation,
  CloudState,
  canMoveCloud,
  isFinalCloud,
  isNews,
  moveCloud,
  type TaskObservation,
  type TaskRef,
} from "../../domain/cloud-reservation.ts";
import { isFinalJob, JobStatus, moveJob, StatusCode } from "../../domain/job.ts";
import { recordJobEvent } from "../jobs/job-events.ts";
import { finishJob, updateJob } from "../jobs/job-update.ts";
import { done, lost, mutate } from "../mutate.ts";
import type { CloudJobDeps } from "./cloud-handoff.ts";

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
  const applied = await mutate<CloudReservation, CloudReservation | "unknown" | "stale">({
    what: `cloud reservation ${reservationId}`,
    read: () => deps.repos.cloudReservations.get(reservationId),
    async attempt(r) {
      if (!r) return done("unknown" as const);
      // Another attempt's task (an earlier launch that found no capacity, or an orphan): not this one's.
      if (r.task && r.task.id !== task.id) return done("unknown" as const);
      if (!isNews(r, o) && !(o.missing && !isFinalCloud(r.state))) return done("stale" as const);
      const now = deps.clock.now().toISOString();
      const state =
        o.missing || o.phase === "stopped"
          ? CloudState.stopped
          : o.phase === "running"
            ? CloudState.running
            : CloudState.launched;
      // A move the state machine does not allow (a report for a reservation gone back to `queued`): not news.
      if (state !== r.state && !canMoveCloud(r.state, state)) return done("stale" as const);
      const patch = {
        task,
        lastStatus: o.lastStatus,
        observedAt: now,
        ...(o.version !== undefined ? { taskVersion: o.version } : {}),
        ...(o.startedAt && !r.startedAt ? { startedAt: o.startedAt } : {}),
      };
      // An event and the reconciler (or two deliveries of one event) reporting at once: one applies it.
      const saved = await deps.repos.cloudReservations.save(
        r,
        state === r.state ? patch : moveCloud(r, state, patch),
        now,
      );
      return saved.ok ? done(saved.value) : lost(saved);
    },
  });
  if (typeof applied === "string") return applied;
  await moveJobOf(deps, applied, o);
  return "applied";
}

/** The job side of a task report. */
async function moveJobOf(deps: CloudJobDeps, r: CloudReservation, o: TaskObservation) {
  const job = await deps.repos.jobs.get(r.jobId);
  if (!job || job.cloudReservationId !== r.id || isFinalJob(job.status)) return;
  const task = r.task!;
  if (r.state === CloudState.stopped) {
    await finishJob(deps, job.id, cloudOutcome(r, o, job.maxDuration));
    return;
  }
  if (r.state === CloudState.running) {
    let started = false;
    const moved = await updateJob(deps, job.id, (j) => {
      started = false;
      if (j.status !== JobStatus.Pending || j.cloudReservationId !== r.id) return undefined;
      started = true;
      return moveJob(j, JobStatus.Running, {
        statusCode: StatusCode.Started,
        statusMessage: `running on ${shortTask(task)}`,
      });
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
