import { z } from "zod";
import { canMoveJob, isFinalJob, type Job, JobStatus, StatusCode } from "../domain/job.ts";
import type { Reservation } from "../domain/reservation.ts";
import { recordJobEvent } from "./job-events.ts";
import type { JobDeps } from "./jobs.ts";
import { placePending } from "./placement.ts";

/** What a node's result says of a process or container: its exit code and who stopped it, if anyone. */
const ExitData = z.looseObject({ exitCode: z.number().int().optional(), stoppedBy: z.string().optional() });

/**
 * Applies `changes` to a job with the usual version check, re-reading and re-deciding on a lost race.
 * `decide` sees the current job and returns the changes, or undefined to leave it.
 */
export async function updateJob(
  deps: JobDeps,
  id: string,
  decide: (job: Job) => Partial<Job> | undefined,
): Promise<Job | undefined> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const job = await deps.repos.jobs.get(id);
    if (!job) return undefined;
    const changes = decide(job);
    if (!changes) return job;
    const updated = await deps.repos.jobs.update(job, changes, deps.clock.now().toISOString());
    if (updated) return updated;
  }
  throw new Error(`job ${id} kept changing`);
}

/**
 * Ends a job: the final status and its reason, then its GPUs and its quota back, then a new placement pass
 * for the workspace (capacity just appeared). Idempotent: a job already final is left as it is.
 */
export async function finishJob(
  deps: JobDeps,
  id: string,
  final: { status: JobStatus; statusCode: string; statusMessage: string; exitCode?: number },
  event: string,
): Promise<Job | undefined> {
  let ended: Job | undefined;
  const job = await updateJob(deps, id, (j) => {
    ended = undefined; // decided again on every attempt: only the attempt that wrote counts
    if (isFinalJob(j.status) || !canMoveJob(j.status, final.status)) return undefined;
    ended = { ...j, ...final, quotaHeld: false };
    return { ...final, quotaHeld: false, controlRequested: undefined };
  });
  if (!ended || !job) return job;
  // Released after the final status is stored with quotaHeld=false: a crash in between leaves the quota one
  // job too full (never over-granted), not released twice.
  if (ended.deviceId) await deps.repos.devices.releaseGpus(ended.deviceId, ended.allocatedGpus, id);
  await deps.repos.quotas.release(ended.workspaceId, ended.gpus.count);
  await recordJobEvent(deps, job, event, final.statusMessage);
  await deps.background.run(() => placePending(deps, job.workspaceId));
  return job;
}

/** The node started the job's workload. */
export async function jobStarted(deps: JobDeps, r: Reservation, pid: number | undefined): Promise<void> {
  let started = false;
  const job = await updateJob(deps, r.jobId!, (j) => {
    started = false;
    if (j.reservationId && j.reservationId !== r.id) return undefined;
    if (j.status !== JobStatus.Pending) return undefined;
    started = true;
    return {
      status: JobStatus.Running,
      statusCode: StatusCode.Started,
      statusMessage: `running on ${j.host ?? r.nodeId}`,
      pid,
      // A placement whose last step was lost (a crash) is completed from the reservation.
      ...(j.deviceId ? {} : { deviceId: r.nodeId, reservationId: r.id }),
    };
  });
  if (started && job)
    await recordJobEvent(deps, job, "started", `${job.statusMessage}${pid ? ` (pid ${pid})` : ""}`);
}

/** The node's result for the job's reservation: how the job ended. */
export async function jobResult(deps: JobDeps, r: Reservation): Promise<void> {
  const result = r.result!;
  const job = await deps.repos.jobs.get(r.jobId!);
  if (!job || job.reservationId !== r.id || isFinalJob(job.status)) return;
  if (result.state === "error") {
    const pull = /pull/i.test(result.error);
    await finishJob(
      deps,
      job.id,
      {
        status: JobStatus.Failed,
        statusCode: pull ? StatusCode.ImagePullFailed : StatusCode.LaunchFailed,
        statusMessage: result.error || "the node could not start it",
      },
      "failed",
    );
    return;
  }
  let data: z.infer<typeof ExitData> = {};
  try {
    data = ExitData.parse(JSON.parse(result.data));
  } catch {
    // not an exit report: treat as an exit without a code
  }
  const code = data.exitCode;
  const exit = code === undefined ? {} : { exitCode: code };
  if (job.controlRequested === "kill") {
    await finishJob(
      deps,
      job.id,
      { status: JobStatus.Killed, statusCode: StatusCode.UserKill, statusMessage: "killed", ...exit },
      "killed",
    );
  } else if (data.stoppedBy === "expiry") {
    await finishJob(
      deps,
      job.id,
      {
        status: JobStatus.Killed,
        statusCode: StatusCode.Expired,
        statusMessage: `killed after its maxDuration of ${job.maxDuration} s`,
        ...exit,
      },
      "killed",
    );
  } else {
    const stop = job.controlRequested === "stop";
    await finishJob(
      deps,
      job.id,
      {
        status: JobStatus.Finished,
        statusCode: stop ? StatusCode.UserStop : StatusCode.Exited,
        statusMessage: `${stop ? "stopped; " : ""}exited with code ${code ?? "unknown"}`,
        ...exit,
      },
      "exited",
    );
  }
}

/** The node removed the job's workload without a result (it never started, or it expired first). */
export async function jobRemoved(deps: JobDeps, r: Reservation): Promise<void> {
  const job = await deps.repos.jobs.get(r.jobId!);
  if (!job || job.reservationId !== r.id || isFinalJob(job.status)) return;
  const expired = r.state === "expired";
  await finishJob(
    deps,
    job.id,
    {
      status: expired && job.status !== JobStatus.Pending ? JobStatus.Killed : JobStatus.Failed,
      statusCode: expired ? StatusCode.Expired : StatusCode.LaunchFailed,
      statusMessage: expired
        ? `removed after its maxDuration of ${job.maxDuration} s`
        : "the node removed it before it reported a result",
    },
    expired ? "killed" : "failed",
  );
}
