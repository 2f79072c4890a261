import { describe, expect, it } from "vitest";
import { canMoveJob, JobStatus } from "../../shared/domain/job.ts";
import { type JobEndReason, jobEnd } from "../../shared/domain/job-end.ts";

describe("jobEnd", () => {
  const cases: [JobEndReason, Partial<ReturnType<typeof jobEnd>>][] = [
    [
      { reason: "exited", exitCode: 3 },
      { status: "Finished", statusCode: "Exited", exitCode: 3, event: "exited" },
    ],
    [{ reason: "exited" }, { status: "Finished", statusMessage: "exited with code unknown" }],
    [
      { reason: "stopped", exitCode: 143 },
      { status: "Finished", statusCode: "UserStop", exitCode: 143 },
    ],
    [
      { reason: "killed", exitCode: 137 },
      { status: "Killed", statusCode: "UserKill", event: "killed" },
    ],
    [
      { reason: "expired", maxDuration: 60, how: "killed", started: true },
      { status: "Killed", statusCode: "Expired", statusMessage: "killed after its maxDuration of 60 s" },
    ],
    [
      { reason: "expired", maxDuration: 60, how: "removed", started: false },
      { status: "Failed", statusCode: "Expired", event: "failed" },
    ],
    [
      { reason: "canceled", by: "ana" },
      { status: "Canceled", statusCode: "UserCancel", statusMessage: "canceled by ana" },
    ],
    [
      { reason: "launchFailed", message: "no such file" },
      { status: "Failed", statusCode: "LaunchFailed", statusMessage: "no such file" },
    ],
    [
      { reason: "imagePullFailed", message: "pull" },
      { status: "Failed", statusCode: "ImagePullFailed" },
    ],
    [
      { reason: "nodeLost", message: "gone" },
      { status: "Failed", statusCode: "NodeLost" },
    ],
    [
      { reason: "noCapacity", message: "none" },
      { status: "Failed", statusCode: "NoCapacity" },
    ],
    [
      { reason: "provisioningFailed", message: "dlq" },
      { status: "Failed", statusCode: "ProvisioningFailed" },
    ],
  ];
  it.each(cases)("maps %o to its status, code and message", (reason, expected) => {
    expect(jobEnd(reason)).toMatchObject(expected);
  });

  it("only ever ends in a final status a running or pending job may move to", () => {
    for (const [reason] of cases) {
      const { status } = jobEnd(reason);
      expect(canMoveJob(JobStatus.Running, status) || canMoveJob(JobStatus.Pending, status)).toBe(true);
    }
  });
});
