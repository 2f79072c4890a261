import { z } from "zod";
import { isFinalJob, JobStatus, moveJob, StatusCode } from "../../domain/job.ts";
import type { JobEndReason } from "../../domain/job-end.ts";
import type { Reservation } from "../../domain/reservation.ts";
import type { JobDeps } from "../deps.ts";
import { recordJobEvent } from "./job-events.ts";
import { finishJob, updateJob } from "./job-update.ts";

/** What a node's result says of a process or container: its exit code and who stopped it, if anyone. */
const ExitData = z.looseObject({ exitCode: z.number().int().optional(), stoppedBy: z.string().optional() });

/** The node started the job's workload. */
export async function jobStarted(deps: JobDeps, r: Reservation, pid: number | undefined): Promise<void> {
  let started = false;
  const job = await updateJob(deps, r.jobId!, (j) => {
    started = false;
    if (j.reservationId && j.reservationId !== r.id) return undefined;
    if (j.status !== JobStatus.Pending) return undefined;
    started = true;
    return moveJob(j, JobStatus.Running, {
      statusCode: StatusCode.Started,
      statusMessage: `running on ${j.host ?? r.nodeId}`,
      pid,
      // A placement whose last step was lost is completed from the reservation.
      ...(j.deviceId ? {} : { deviceId: r.nodeId, reservationId: r.id }),
    });
  });
  if (started && job)
    await recordJobEvent(deps, job, "started", `${job.statusMessage}${pid ? ` (pid ${pid})` : ""}`);
}

/** How a job ended, from its node's result. */
function endOf(
  r: Reservation,
  job: { controlRequested?: "stop" | "kill"; maxDuration: number },
): JobEndReason {
  const result = r.result!;
  if (result.state === "error") {
    const message = result.error || "the node could not start it";
    return /pull/i.test(result.error)
      ? { reason: "imagePullFailed", message }
      : { reason: "launchFailed", message };
  }
  let data: z.infer<typeof ExitData> = {};
  try {
    data = ExitData.parse(JSON.parse(result.data));
  } catch {
    // not an exit report: an exit without a code
  }
  const exitCode = data.exitCode;
  if (job.controlRequested === "kill") return { reason: "killed", exitCode };
  if (data.stoppedBy === "expiry")
    return { reason: "expired", maxDuration: job.maxDuration, how: "killed", started: true, exitCode };
  // 137 is 128 + SIGKILL: the stop's grace period ran out and the node killed it.
  return job.controlRequested === "stop"
    ? { reason: "stopped", exitCode, escalated: exitCode === 137 }
    : { reason: "exited", exitCode };
}

/** The node's result for the job's reservation: how the job ended. */
export async function jobResult(deps: JobDeps, r: Reservation): Promise<void> {
  const job = await deps.repos.jobs.get(r.jobId!);
  if (!job || job.reservationId !== r.id || isFinalJob(job.status)) return;
  await finishJob(deps, job.id, endOf(r, job));
}

/** The node removed the job's workload without a result (it never started, or it expired first). */
export async function jobRemoved(deps: JobDeps, r: Reservation): Promise<void> {
  const job = await deps.repos.jobs.get(r.jobId!);
  if (!job || job.reservationId !== r.id || isFinalJob(job.status)) return;
  await finishJob(
    deps,
    job.id,
    r.state === "expired"
      ? {
          reason: "expired",
          maxDuration: job.maxDuration,
          how: "removed",
          started: job.status !== JobStatus.Pending,
        }
      : { reason: "launchFailed", message: "the node removed it before it reported a result" },
  );
}
