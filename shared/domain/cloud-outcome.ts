import type { CloudReservation, TaskObservation } from "./cloud-reservation.ts";
import { JobStatus, StatusCode } from "./job.ts";

export interface JobEnd {
  status: JobStatus;
  statusCode: string;
  statusMessage: string;
  exitCode?: number;
}

/**
 * How a job on cloud capacity ended, from the last report of its task and what was asked of it: a kill is
 * `Killed`; a stop, or any exit with a code, is `Finished` with that code; a task that never got to run is
 * `Failed` (ImagePullFailed or LaunchFailed); a task that went away without an exit code (its instance
 * was reclaimed, or the launcher forgot it before we saw its end) is `Failed` with `NodeLost`.
 */
export function cloudOutcome(
  r: Pick<CloudReservation, "controlRequested" | "launcher">,
  o: TaskObservation,
  maxDuration: number,
): JobEnd {
  const exit = o.exitCode === undefined ? {} : { exitCode: o.exitCode };
  const why = o.reason ? `: ${o.reason}` : "";
  if (r.controlRequested === "kill")
    return { status: JobStatus.Killed, statusCode: StatusCode.UserKill, statusMessage: "killed", ...exit };
  if (r.controlRequested === "expire" || o.expired) {
    return {
      status: JobStatus.Killed,
      statusCode: StatusCode.Expired,
      statusMessage: `killed after its maxDuration of ${maxDuration} s`,
      ...exit,
    };
  }
  if (r.controlRequested === "stop" && (o.exitCode !== undefined || o.missing)) {
    return {
      status: JobStatus.Finished,
      statusCode: StatusCode.UserStop,
      statusMessage: `stopped; exited with code ${o.exitCode ?? "unknown"}`,
      ...exit,
    };
  }
  if (o.missing) {
    return {
      status: JobStatus.Failed,
      statusCode: StatusCode.NodeLost,
      statusMessage: `${r.launcher.toUpperCase()} no longer knows the task and its end was not observed`,
    };
  }
  if (o.exitCode !== undefined) {
    return {
      status: JobStatus.Finished,
      statusCode: StatusCode.Exited,
      statusMessage: `exited with code ${o.exitCode}`,
      ...exit,
    };
  }
  if (o.neverStarted) {
    return o.pullFailed
      ? {
          status: JobStatus.Failed,
          statusCode: StatusCode.ImagePullFailed,
          statusMessage: `image pull failed${why}`,
        }
      : {
          status: JobStatus.Failed,
          statusCode: StatusCode.LaunchFailed,
          statusMessage: `the task did not start${why}`,
        };
  }
  return {
    status: JobStatus.Failed,
    statusCode: StatusCode.NodeLost,
    statusMessage: `the task stopped without an exit code${why}`,
  };
}
