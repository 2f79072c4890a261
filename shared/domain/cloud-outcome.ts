import type { CloudReservation, TaskObservation } from "./cloud-reservation.ts";
import type { JobEndReason } from "./job-end.ts";

/**
 * Why a job on cloud capacity ended, from the last report of its task and what was asked of it: a kill is
 * `killed`; an expiry `expired`; a stop, or any exit with a code, an exit with that code; a task that never
 * got to run a launch (or image pull) failure; a task that went away without an exit code (its instance
 * was reclaimed, or the launcher forgot it before we saw its end) a lost node. `jobEnd` turns it into the
 * job's status.
 */
export function cloudOutcome(
  r: Pick<CloudReservation, "controlRequested" | "launcher">,
  o: TaskObservation,
  maxDuration: number,
): JobEndReason {
  const exitCode = o.exitCode;
  const why = o.reason ? `: ${o.reason}` : "";
  if (r.controlRequested === "kill") return { reason: "killed", exitCode };
  if (r.controlRequested === "expire" || o.expired)
    return { reason: "expired", maxDuration, how: "killed", started: true, exitCode };
  if (r.controlRequested === "stop" && (exitCode !== undefined || o.missing))
    return { reason: "stopped", exitCode };
  if (o.missing) {
    return {
      reason: "nodeLost",
      message: `${r.launcher.toUpperCase()} no longer knows the task and its end was not observed`,
    };
  }
  if (exitCode !== undefined) return { reason: "exited", exitCode };
  if (o.neverStarted) {
    return o.pullFailed
      ? { reason: "imagePullFailed", message: `image pull failed${why}` }
      : { reason: "launchFailed", message: `the task did not start${why}` };
  }
  return { reason: "nodeLost", message: `the task stopped without an exit code${why}` };
}
