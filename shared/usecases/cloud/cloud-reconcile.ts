import { type CloudReservation, CloudState, type TaskObservation } from "../../domain/cloud-reservation.ts";
import { JobStatus } from "../../domain/job.ts";
import { askToStop, stopCloudJob } from "./cloud-control.ts";
import { type CloudJobDeps, enqueue, saveCloud } from "./cloud-handoff.ts";
import { applyObservation } from "./cloud-tasks.ts";
import { failProvisioning } from "./provision.ts";

/** Reservations looked at per state in one run. */
const BATCH = 100;
/** Messages the reconciler sends again for one launch before it gives up on it. */
const MAX_REQUEUES = 3;

const quietSince = (deps: CloudJobDeps, seconds: number) =>
  new Date(deps.clock.now().getTime() - seconds * 1000).toISOString();

/**
 * Moves `updatedAt` on, so a reservation acted upon is not acted upon again before it is quiet again. Two
 * sweeps at once: one touches it and acts, the other's write fails and it moves on.
 */
const touch = (deps: CloudJobDeps, r: CloudReservation) => saveCloud(deps, r, {});

/**
 * The sweeper's part of the cloud hand-off: reservations `queued` for longer than `requeueAfterSeconds`
 * (their message was lost, or never sent) are enqueued again. A duplicate message is harmless.
 */
export async function requeueQueued(deps: CloudJobDeps): Promise<number> {
  let requeued = 0;
  const before = quietSince(deps, deps.cloud.settings.requeueAfterSeconds);
  for (const r of await deps.repos.cloudReservations.quiet(CloudState.queued, before, BATCH)) {
    const touched = await touch(deps, r);
    if (!touched) continue; // it moved meanwhile
    await enqueue(deps, touched);
    requeued++;
  }
  if (requeued > 0) deps.logger.info("cloud work enqueued again", { count: requeued });
  return requeued;
}

export interface ReconcileReport {
  requeued: number;
  observed: number;
  applied: number;
  stopsRepeated: number;
  expired: number;
}

/**
 * The reconciler (a scheduled function, and the local server's sweep loop): covers lost events and dead
 * workers (specs/cloud.md). For reservations quiet for `quietSeconds`:
 * - `launching`: the worker may have died mid-launch; the message is sent again (same attempt: the
 *   launch finds the task it may have started).
 * - `launched`, `running`, `stopping`: the launcher is asked for the tasks' state (ECS DescribeTasks,
 *   Kubernetes Job status), which is applied like an event (so an event and the reconciler at once apply
 *   a change once). A stop asked of a task that still lives is asked again.
 * - `running` past its job's maxDuration: stopped, and the job ends `Killed` (`Expired`).
 */
export async function reconcileCloud(deps: CloudJobDeps): Promise<ReconcileReport> {
  const report: ReconcileReport = { requeued: 0, observed: 0, applied: 0, stopsRepeated: 0, expired: 0 };
  const before = quietSince(deps, deps.cloud.settings.quietSeconds);
  {
    for (const r of await deps.repos.cloudReservations.quiet(CloudState.launching, before, BATCH)) {
      if (r.requeues >= MAX_REQUEUES) {
        await failProvisioning(
          deps,
          r.id,
          `no provision worker finished it after ${r.requeues + 1} messages`,
        );
        continue;
      }
      // Two reconcilers at once, or the worker finally recording its task: one of them counts it.
      const again = await saveCloud(deps, r, { requeues: r.requeues + 1 });
      if (!again) continue;
      await enqueue(deps, again);
      report.requeued++;
    }
    const followed = [
      ...(await deps.repos.cloudReservations.quiet(CloudState.launched, before, BATCH)),
      ...(await deps.repos.cloudReservations.quiet(CloudState.running, before, BATCH)),
      ...(await deps.repos.cloudReservations.quiet(CloudState.stopping, before, BATCH)),
    ].filter((r) => r.task);
    for (const launcherKind of ["ecs", "eks"] as const) {
      const mine = followed.filter((r) => r.launcher === launcherKind);
      const launcher = deps.cloud.launchers[launcherKind];
      if (mine.length === 0 || !launcher) continue;
      const seen = await launcher.observe(mine.map((r) => r.task!));
      for (const r of mine) {
        const o = seen.get(r.task!.id);
        if (!o) continue;
        report.observed++;
        if ((await applyObservation(deps, r.id, r.task!, o)) === "applied") report.applied++;
        else await followUp(deps, r, o, report);
      }
    }
  }
  if (report.applied + report.requeued + report.stopsRepeated + report.expired > 0)
    deps.logger.info("cloud reconciled", { ...report });
  return report;
}

/** A task whose state did not change: repeat a stop it did not obey, or stop it past its maxDuration. */
async function followUp(
  deps: CloudJobDeps,
  r: CloudReservation,
  o: TaskObservation,
  report: ReconcileReport,
) {
  if (o.phase === "stopped") return;
  const now = deps.clock.now().getTime();
  if (r.controlRequested && r.stopRequestedAt) {
    if (now - Date.parse(r.stopRequestedAt) < deps.cloud.settings.quietSeconds * 1000) return;
    // Two reconcilers at once, or the task's end arriving: only one asks again.
    const again = await saveCloud(deps, r, { stopRequestedAt: new Date(now).toISOString() });
    if (!again) return;
    await askToStop(
      deps,
      again,
      "asked to stop earlier and still running",
      r.controlRequested === "stop" ? "stop" : "kill",
    ).catch((err: Error) =>
      deps.logger.warn("could not stop a task", { reservationId: r.id, error: err.message }),
    );
    report.stopsRepeated++;
    return;
  }
  if (r.state !== CloudState.running || !r.startedAt) return;
  const job = await deps.repos.jobs.get(r.jobId);
  if (!job || job.status !== JobStatus.Running) return;
  if (now <= Date.parse(r.startedAt) + job.maxDuration * 1000) return;
  await stopCloudJob(deps, job, "expire", `ran past its maxDuration of ${job.maxDuration} s`).catch(
    (err: Error) =>
      deps.logger.warn("could not stop an expired task", { reservationId: r.id, error: err.message }),
  );
  report.expired++;
}
