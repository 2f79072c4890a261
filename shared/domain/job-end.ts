import { JobStatus, StatusCode } from "./job.ts";

/**
 * Why a job ended: a closed set, for jobs on the fleet and in the cloud alike. `jobEnd` derives the
 * Launcher status, the status code and the message from it, so "how did this job end" is decided once.
 */
export type JobEndReason =
  /** The program exited by itself (a code may be unknown). */
  | { reason: "exited"; exitCode?: number }
  /** It exited after a user's stop (SIGTERM); `escalated`: it outlived its grace period and was killed. */
  | { reason: "stopped"; exitCode?: number; escalated?: boolean }
  /** A user's kill. */
  | { reason: "killed"; exitCode?: number }
  /** Its maxDuration passed: `killed` when its workload was stopped, `removed` when it was taken away. */
  | { reason: "expired"; maxDuration: number; how: "killed" | "removed"; started: boolean; exitCode?: number }
  | { reason: "canceled"; by: string }
  | { reason: "launchFailed"; message: string }
  | { reason: "imagePullFailed"; message: string }
  | { reason: "nodeLost"; message: string }
  | { reason: "noCapacity"; message: string }
  | { reason: "provisioningFailed"; message: string }
  | { reason: "secretMissing"; message: string };

export interface JobEnd {
  status: JobStatus;
  statusCode: string;
  statusMessage: string;
  exitCode?: number;
  /** The lifecycle event that records it. */
  event: "exited" | "killed" | "failed" | "canceled";
}

const code = (exitCode: number | undefined) => (exitCode === undefined ? {} : { exitCode });

export function jobEnd(r: JobEndReason): JobEnd {
  switch (r.reason) {
    case "exited":
      return {
        status: JobStatus.Finished,
        statusCode: StatusCode.Exited,
        statusMessage: `exited with code ${r.exitCode ?? "unknown"}`,
        ...code(r.exitCode),
        event: "exited",
      };
    case "stopped":
      if (r.escalated)
        return {
          status: JobStatus.Killed,
          statusCode: StatusCode.UserStop,
          statusMessage:
            "stopped: it did not exit within its grace period after SIGTERM, so it was killed (SIGKILL)",
          ...code(r.exitCode),
          event: "killed",
        };
      return {
        status: JobStatus.Finished,
        statusCode: StatusCode.UserStop,
        statusMessage: `stopped; exited with code ${r.exitCode ?? "unknown"}`,
        ...code(r.exitCode),
        event: "exited",
      };
    case "killed":
      return {
        status: JobStatus.Killed,
        statusCode: StatusCode.UserKill,
        statusMessage: "killed",
        ...code(r.exitCode),
        event: "killed",
      };
    case "expired": {
      // A job that never started cannot have been killed: it failed to run within its time.
      const status = r.started ? JobStatus.Killed : JobStatus.Failed;
      return {
        status,
        statusCode: StatusCode.Expired,
        statusMessage: `${r.how} after its maxDuration of ${r.maxDuration} s`,
        ...code(r.exitCode),
        event: r.started ? "killed" : "failed",
      };
    }
    case "canceled":
      return {
        status: JobStatus.Canceled,
        statusCode: StatusCode.UserCancel,
        statusMessage: `canceled by ${r.by}`,
        event: "canceled",
      };
    case "launchFailed":
      return {
        status: JobStatus.Failed,
        statusCode: StatusCode.LaunchFailed,
        statusMessage: r.message,
        event: "failed",
      };
    case "imagePullFailed":
      return {
        status: JobStatus.Failed,
        statusCode: StatusCode.ImagePullFailed,
        statusMessage: r.message,
        event: "failed",
      };
    case "nodeLost":
      return {
        status: JobStatus.Failed,
        statusCode: StatusCode.NodeLost,
        statusMessage: r.message,
        event: "failed",
      };
    case "noCapacity":
      return {
        status: JobStatus.Failed,
        statusCode: StatusCode.NoCapacity,
        statusMessage: r.message,
        event: "failed",
      };
    case "provisioningFailed":
      return {
        status: JobStatus.Failed,
        statusCode: StatusCode.ProvisioningFailed,
        statusMessage: r.message,
        event: "failed",
      };
    case "secretMissing":
      return {
        status: JobStatus.Failed,
        statusCode: StatusCode.SecretMissing,
        statusMessage: r.message,
        event: "failed",
      };
  }
}
