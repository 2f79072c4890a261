import type { ProvisionMessage } from "../../contracts/queues.ts";
import {
  type CloudReservation,
  CloudState,
  isFinalCloud,
  moveCloud,
  type TaskObservation,
  type TaskRef,
} from "../../domain/cloud-reservation.ts";
import { isFinalJob, type Job, JobStatus, StatusCode } from "../../domain/job.ts";
import { jobArgv } from "../../domain/job-reservation.ts";
import { containerLimits } from "../../domain/resource-limits.ts";
import type { LaunchRequest } from "../../ports/cloud.ts";
import { recordJobEvent } from "../jobs/job-events.ts";
import { finishJob, updateJob } from "../jobs/job-update.ts";
import { done, lost, mutate } from "../mutate.ts";
import { askToStop } from "./cloud-control.ts";
import { type CloudJobDeps, enqueue, saveCloud, withdraw } from "./cloud-handoff.ts";
import { applyObservation, shortTask } from "./cloud-tasks.ts";

export type ProvisionOutcome = "launched" | "ignored" | "noCapacity" | "rejected" | "canceled";

/** The launch request for a job: its program (or the image's own), environment, GPUs and limits. */
export function launchRequest(job: Job, r: CloudReservation): LaunchRequest {
  return {
    reservationId: r.id,
    attempt: r.attempt,
    workspaceId: job.workspaceId,
    jobId: job.id,
    image: job.container?.image,
    command: jobArgv(job),
    environment: job.environment,
    workingDirectory: job.workingDirectory,
    gpus: job.gpus,
    constraints: job.placementConstraints,
    maxDuration: job.maxDuration,
    ...cloudLimits(job),
  };
}

/** A job's CPU and memory limits on cloud capacity (swap has no equivalent there: such jobs stay on the fleet). */
function cloudLimits(job: Job): Pick<LaunchRequest, "limits"> {
  const { cpus, memoryMiB } = containerLimits(job.resourceLimits);
  return cpus || memoryMiB
    ? { limits: { ...(cpus ? { cpus } : {}), ...(memoryMiB ? { memoryMiB } : {}) } }
    : {};
}

/**
 * The provision worker's work for one message (specs/cloud.md). Idempotent: a message for another attempt,
 * or for work already past `launching`, is acknowledged and ignored; the same message twice, or at once,
 * starts one task, because the launch is keyed by reservation and attempt (ECS clientToken, Kubernetes Job
 * name) and the task is recorded with a conditional write. Steps:
 * 1. `queued → launching` (conditional); a message for a reservation already `launching` goes on (the worker
 *    that took it may have died; its launch is found again by its token).
 * 2. launch. No capacity: back to `queued` with the next attempt and a delayed message (doubling), until
 *    `capacityRetries` runs out and the job fails with NoCapacity. Rejected: the job fails with the reason.
 * 3. record the task (`launching → launched`); if the job was canceled meanwhile, stop the task.
 * A TransientLaunchError (or any other error) propagates: the message is retried (see provisionHandler).
 */
export async function provision(deps: CloudJobDeps, message: ProvisionMessage): Promise<ProvisionOutcome> {
  // 1. Take it. One message delivered twice at once: one takes it; the other sees `launching` and launches
  // with the same token, which finds the same task.
  const r = await mutate({
    what: `cloud reservation ${message.reservationId}`,
    read: () => deps.repos.cloudReservations.get(message.reservationId),
    async attempt(r) {
      if (!r || r.attempt !== message.attempt) return done(undefined);
      if (r.state !== CloudState.queued) return done(r);
      const saved = await deps.repos.cloudReservations.save(
        r,
        moveCloud(r, CloudState.launching),
        deps.clock.now().toISOString(),
      );
      return saved.ok ? done(saved.value) : lost(saved);
    },
  });
  if (!r || r.state !== CloudState.launching) return "ignored";
  const job = await deps.repos.jobs.get(r.jobId);
  if (!job || job.cloudReservationId !== r.id || isFinalJob(job.status)) {
    await withdraw(deps, r, "its job ended before it was launched");
    return "canceled";
  }
  const launcher = deps.cloud.launchers[r.launcher];
  if (!launcher) return reject(deps, r, `${r.launcher.toUpperCase()} capacity is not configured`);

  // 2. Launch.
  const result = await launcher.launch(launchRequest(job, r));
  if (result.kind === "rejected") return reject(deps, r, result.reason);
  if (result.kind === "noCapacity") return noCapacity(deps, r, result.reason);

  // 3. Record the task. An event may have recorded it first; a cancel may have come in between.
  const recorded = await recordTask(deps, r, result.task, result.observation);
  return recorded === "canceled" ? "canceled" : "launched";
}

async function recordTask(
  deps: CloudJobDeps,
  current: CloudReservation,
  task: TaskRef,
  seen: TaskObservation | undefined,
): Promise<"recorded" | "canceled"> {
  type Recorded = {
    outcome: "recorded" | "canceled";
    stopping?: CloudReservation;
    launched?: CloudReservation;
  };
  const out = await mutate<CloudReservation, Recorded>({
    what: `cloud reservation ${current.id}`,
    current,
    read: () => deps.repos.cloudReservations.get(current.id),
    async attempt(r) {
      if (!r) return done({ outcome: "recorded" });
      if (r.task?.id === task.id)
        return done({ outcome: r.state === CloudState.stopping ? "canceled" : "recorded" });
      const now = deps.clock.now().toISOString();
      if (r.state === CloudState.canceled || r.state === CloudState.failed) {
        // Canceled (or failed) while this launch was under way: keep the task on record until it is seen stopped.
        const saved = await deps.repos.cloudReservations.save(
          r,
          moveCloud(r, CloudState.stopping, { task, controlRequested: "kill", stopRequestedAt: now }),
          now,
        );
        return saved.ok ? done({ outcome: "canceled", stopping: saved.value }) : lost(saved);
      }
      if (r.state !== CloudState.launching) return done({ outcome: "recorded" });
      // A task already running (or ended) when RunTask answered: applied like an event.
      if (seen && seen.phase !== "pending") {
        await applyObservation(deps, r.id, task, seen);
        return done({ outcome: "recorded" });
      }
      // The worker and an early event (or a second delivery of the message) both record the task: one wins.
      const saved = await deps.repos.cloudReservations.save(
        r,
        moveCloud(r, CloudState.launched, {
          task,
          observedAt: now,
          ...(seen ? { lastStatus: seen.lastStatus } : {}),
          ...(seen?.version !== undefined ? { taskVersion: seen.version } : {}),
        }),
        now,
      );
      return saved.ok ? done({ outcome: "recorded", launched: saved.value }) : lost(saved);
    },
  });
  if (out.stopping) {
    const stopping = out.stopping;
    await askToStop(deps, stopping, "the job was canceled while it was launching", "kill").catch(
      (err: Error) =>
        deps.logger.warn("could not stop a canceled job's task; the reconciler will try again", {
          reservationId: stopping.id,
          error: err.message,
        }),
    );
  }
  if (out.launched) {
    const launched = out.launched;
    const message = `${shortTask(task)} is ${seen?.lastStatus ?? "launched"}: waiting for an instance`;
    const job = await updateJob(deps, launched.jobId, (j) =>
      j.status === JobStatus.Pending && j.cloudReservationId === launched.id
        ? { statusCode: StatusCode.Provisioning, statusMessage: message }
        : undefined,
    );
    if (job) await recordJobEvent(deps, job, "launched", message);
  }
  return out.outcome;
}

async function reject(deps: CloudJobDeps, r: CloudReservation, reason: string): Promise<ProvisionOutcome> {
  const failed = await withdraw(deps, r, reason, CloudState.failed);
  if (failed?.state === CloudState.failed && failed.reason === reason) {
    await finishJob(deps, r.jobId, { reason: "launchFailed", message: `could not launch: ${reason}` });
  }
  return "rejected";
}

/**
 * Fails the job of a reservation the worker cannot get anywhere with: its message's last receive failed
 * too (the message goes on to the dead-letter queue, kept there for inspection), or the reconciler has
 * enqueued it again too often. A reservation that has a task is left to the task's own end.
 */
export async function failProvisioning(deps: CloudJobDeps, reservationId: string, reason: string) {
  const current = await deps.repos.cloudReservations.get(reservationId);
  if (!current || isFinalCloud(current.state) || current.task) return;
  const failed = await withdraw(deps, current, reason, CloudState.failed);
  if (failed?.state !== CloudState.failed) return;
  await finishJob(deps, current.jobId, {
    reason: "provisioningFailed",
    message: `provisioning failed: ${reason}`,
  });
}

async function noCapacity(
  deps: CloudJobDeps,
  current: CloudReservation,
  reason: string,
): Promise<ProvisionOutcome> {
  const { capacityRetries, capacityRetryBaseSeconds } = deps.cloud.settings;
  const retries = current.capacityRetries + 1;
  if (retries > capacityRetries) {
    const failed = await withdraw(deps, current, `no capacity: ${reason}`, CloudState.failed);
    if (failed?.state === CloudState.failed) {
      await finishJob(deps, current.jobId, {
        reason: "noCapacity",
        message: `no GPU capacity in the cloud after ${retries} tries: ${reason}`,
      });
    }
    return "noCapacity";
  }
  const delay = Math.min(900, capacityRetryBaseSeconds * 2 ** (retries - 1));
  // A fresh attempt number: the next launch uses a new token (the old one would return this same answer).
  // A cancel or a second delivery racing it: one wins; the loser's reading is stale and it stops here.
  const next = await saveCloud(
    deps,
    current,
    moveCloud(current, CloudState.queued, { attempt: current.attempt + 1, capacityRetries: retries, reason }),
  );
  if (!next) return "ignored"; // canceled meanwhile, or another delivery got here first
  const message = `no GPU capacity in the cloud (${reason}); trying again in ${delay} s (${retries} of ${capacityRetries})`;
  const job = await updateJob(deps, next.jobId, (j) =>
    j.status === JobStatus.Pending && j.cloudReservationId === next.id
      ? { statusCode: StatusCode.NoCapacity, statusMessage: message }
      : undefined,
  );
  if (job) await recordJobEvent(deps, job, "no-capacity", message);
  await enqueue(deps, next, delay);
  return "noCapacity";
}
