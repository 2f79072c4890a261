import { describe, expect, it } from "vitest";
import { observeEcsTask } from "../../shared/adapters/ecs/task-status.ts";
import { cloudOutcome } from "../../shared/domain/cloud-outcome.ts";
import {
  CLOUD_STATES,
  CLOUD_TRANSITIONS,
  canMoveCloud,
  isFinalCloud,
  isNews,
  kubernetesJobName,
  launchToken,
  type TaskObservation,
} from "../../shared/domain/cloud-reservation.ts";
import { jobEnd } from "../../shared/domain/job-end.ts";
import { TokenBucket } from "../../shared/domain/token-bucket.ts";

describe("cloud reservation states", () => {
  it("ends only in stopped, failed or canceled, and leaves canceled or failed only to stop a late launch", () => {
    expect(CLOUD_STATES.filter(isFinalCloud)).toEqual(["stopped", "failed", "canceled"]);
    expect(CLOUD_TRANSITIONS.stopped).toEqual([]);
    expect(CLOUD_TRANSITIONS.failed).toEqual(["stopping"]);
    expect(CLOUD_TRANSITIONS.canceled).toEqual(["stopping"]);
    expect(canMoveCloud("queued", "launching")).toBe(true);
    expect(canMoveCloud("queued", "running")).toBe(false);
    expect(canMoveCloud("running", "queued")).toBe(false);
    // Events may overtake the worker's record of the task.
    expect(canMoveCloud("launching", "running")).toBe(true);
    expect(canMoveCloud("launching", "stopped")).toBe(true);
  });

  it("derives the launch token and the Kubernetes Job name from reservation and attempt", () => {
    const r = { id: "01m81tsa93f8ffyw297gqps1j1", attempt: 2 };
    expect(launchToken(r)).toBe("01m81tsa93f8ffyw297gqps1j1:2");
    expect(launchToken(r).length).toBeLessThanOrEqual(64);
    expect(kubernetesJobName(r)).toBe("res-01m81tsa93f8ffyw297gqps1j1-2");
    expect(kubernetesJobName(r)).toMatch(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/);
  });
});

describe("isNews", () => {
  const pending = (version?: number): TaskObservation => ({
    phase: "pending",
    lastStatus: "PENDING",
    version,
  });
  const running = (version?: number): TaskObservation => ({
    phase: "running",
    lastStatus: "RUNNING",
    version,
  });
  const stopped = (version?: number): TaskObservation => ({
    phase: "stopped",
    lastStatus: "STOPPED",
    version,
  });

  it("takes a later phase, or a higher version of the same phase", () => {
    expect(isNews({ state: "launched", taskVersion: 2 }, running(3))).toBe(true);
    expect(isNews({ state: "launched", taskVersion: 2 }, pending(3))).toBe(true);
    expect(isNews({ state: "running", taskVersion: 4 }, stopped(5))).toBe(true);
  });

  it("drops duplicates and reports overtaken by newer ones", () => {
    expect(isNews({ state: "launched", taskVersion: 3 }, pending(3))).toBe(false);
    expect(isNews({ state: "running", taskVersion: 4 }, pending(2))).toBe(false);
    expect(isNews({ state: "running", taskVersion: 4 }, running(4))).toBe(false);
    expect(isNews({ state: "stopped", taskVersion: 6 }, stopped(7))).toBe(false);
  });

  it("takes the first report while the worker is still launching, and only the end while stopping", () => {
    expect(isNews({ state: "launching", taskVersion: undefined }, pending(1))).toBe(true);
    expect(isNews({ state: "stopping", taskVersion: 3 }, running(9))).toBe(false);
    expect(isNews({ state: "stopping", taskVersion: 3 }, stopped(4))).toBe(true);
  });
});

describe("cloudOutcome", () => {
  const r = { launcher: "ecs" as const };
  const outcome = (...args: Parameters<typeof cloudOutcome>) => jobEnd(cloudOutcome(...args));
  it("reads an exit, whatever its code, as Finished with that code", () => {
    expect(outcome(r, { phase: "stopped", lastStatus: "STOPPED", exitCode: 3 }, 60)).toMatchObject({
      status: "Finished",
      statusCode: "Exited",
      exitCode: 3,
    });
  });

  it("reads what was asked: kill → Killed, stop → Finished (UserStop), expiry → Killed (Expired)", () => {
    const ended: TaskObservation = { phase: "stopped", lastStatus: "STOPPED", exitCode: 143 };
    expect(outcome({ ...r, controlRequested: "kill" }, ended, 60)).toMatchObject({
      status: "Killed",
      statusCode: "UserKill",
    });
    expect(outcome({ ...r, controlRequested: "stop" }, ended, 60)).toMatchObject({
      status: "Finished",
      statusCode: "UserStop",
      exitCode: 143,
    });
    expect(outcome({ ...r, controlRequested: "expire" }, ended, 60)).toMatchObject({
      status: "Killed",
      statusCode: "Expired",
      statusMessage: "killed after its maxDuration of 60 s",
    });
  });

  it("fails a task that never ran (image pull or otherwise) and one that vanished", () => {
    expect(
      outcome(
        r,
        {
          phase: "stopped",
          lastStatus: "STOPPED",
          neverStarted: true,
          pullFailed: true,
          reason: "CannotPullContainerError: x",
        },
        60,
      ),
    ).toMatchObject({ status: "Failed", statusCode: "ImagePullFailed" });
    expect(outcome(r, { phase: "stopped", lastStatus: "STOPPED", neverStarted: true }, 60)).toMatchObject({
      status: "Failed",
      statusCode: "LaunchFailed",
    });
    expect(outcome(r, { phase: "stopped", lastStatus: "MISSING", missing: true }, 60)).toMatchObject({
      status: "Failed",
      statusCode: "NodeLost",
    });
    expect(
      outcome(r, { phase: "stopped", lastStatus: "STOPPED", reason: "Host EC2 instance terminated" }, 60),
    ).toMatchObject({
      status: "Failed",
      statusCode: "NodeLost",
      statusMessage: expect.stringContaining("terminated"),
    });
  });
});

describe("observeEcsTask", () => {
  const task = (over: Record<string, unknown>) => ({
    taskArn: "arn:aws:ecs:r:1:task/c/abc",
    containers: [],
    ...over,
  });
  it("maps the ECS lifecycle onto pending, running and stopped", () => {
    for (const s of ["PROVISIONING", "PENDING", "ACTIVATING"])
      expect(observeEcsTask(task({ lastStatus: s, version: 1 }), "job")).toMatchObject({
        phase: "pending",
        lastStatus: s,
      });
    expect(
      observeEcsTask(task({ lastStatus: "RUNNING", startedAt: "2026-11-22T10:00:00Z" }), "job"),
    ).toMatchObject({
      phase: "running",
      startedAt: "2026-11-22T10:00:00Z",
    });
    expect(
      observeEcsTask(task({ lastStatus: "DEACTIVATING", startedAt: new Date("2026-11-22T10:00:00Z") }), "job")
        .phase,
    ).toBe("running");
  });

  it("takes the job container's exit code, and recognises a task that failed to start or to pull", () => {
    const stopped = observeEcsTask(
      task({
        lastStatus: "STOPPED",
        startedAt: "2026-11-22T10:00:00Z",
        stopCode: "EssentialContainerExited",
        containers: [
          { name: "sidecar", exitCode: 0 },
          { name: "job", exitCode: 7 },
        ],
      }),
      "job",
    );
    expect(stopped).toMatchObject({ phase: "stopped", exitCode: 7 });
    expect(stopped.neverStarted).toBeUndefined();
    const pull = observeEcsTask(
      task({
        lastStatus: "STOPPED",
        stopCode: "TaskFailedToStart",
        stoppedReason: "CannotPullContainerError: pull image manifest has been retried 5 time(s)",
        containers: [{ name: "job", exitCode: null }],
      }),
      "job",
    );
    expect(pull).toMatchObject({ phase: "stopped", neverStarted: true, pullFailed: true });
  });
});

describe("TokenBucket", () => {
  it("lets a burst through at once, then spaces calls at its rate", async () => {
    let now = 0;
    const slept: number[] = [];
    const bucket = new TokenBucket(
      10,
      3,
      () => now,
      async (ms) => {
        slept.push(ms);
        now += ms;
      },
    );
    for (let i = 0; i < 3; i++) await bucket.take();
    expect(now).toBe(0);
    await bucket.take();
    expect(now).toBeCloseTo(100, 5);
    await Promise.all([bucket.take(), bucket.take()]);
    expect(now).toBeCloseTo(300, 5);
    expect(slept.every((ms) => ms > 0)).toBe(true);
  });

  it("refuses a rate or burst that would never let anything through", () => {
    expect(() => new TokenBucket(0, 1)).toThrow();
    expect(() => new TokenBucket(1, 0)).toThrow();
  });
});
