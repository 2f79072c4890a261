import { z } from "zod";
import type { TaskObservation } from "../../domain/cloud-reservation.ts";

/**
 * The parts of an ECS task Berth reads, as DescribeTasks returns them and as "ECS Task State Change"
 * events carry them in `detail` (specs/cloud.md). Parsed tolerantly: AWS adds fields, and dates come as
 * Date objects from the SDK but as strings in events.
 */
export const EcsTask = z.looseObject({
  taskArn: z.string(),
  lastStatus: z.string().optional(),
  desiredStatus: z.string().optional(),
  startedBy: z.string().optional(),
  startedAt: z.union([z.string(), z.date()]).optional(),
  stoppedReason: z.string().optional(),
  stopCode: z.string().optional(),
  version: z.number().int().optional(),
  containers: z
    .array(
      z.looseObject({
        name: z.string().optional(),
        exitCode: z.number().int().nullish(),
        reason: z.string().nullish(),
        lastStatus: z.string().optional(),
      }),
    )
    .default([]),
});
export type EcsTask = z.infer<typeof EcsTask>;

const STOPPED = "STOPPED";
/** After RUNNING, on the way down: the container has run (or is running) until the task is STOPPED. */
const STOPPING = ["DEACTIVATING", "STOPPING", "DEPROVISIONING"];

/** What an ECS task's state means for its job; `container` names the job's container in the task. */
export function observeEcsTask(task: EcsTask, container: string): TaskObservation {
  const status = task.lastStatus ?? "PROVISIONING";
  const startedAt =
    task.startedAt === undefined
      ? undefined
      : typeof task.startedAt === "string"
        ? task.startedAt
        : task.startedAt.toISOString();
  const main = task.containers.find((c) => c.name === container) ?? task.containers[0];
  const version = task.version === undefined ? {} : { version: task.version };
  if (status === STOPPED) {
    const reason = main?.reason || task.stoppedReason || undefined;
    const exitCode = main?.exitCode ?? undefined;
    const neverStarted = exitCode === undefined && (!startedAt || task.stopCode === "TaskFailedToStart");
    return {
      phase: "stopped",
      lastStatus: status,
      ...version,
      ...(startedAt ? { startedAt } : {}),
      ...(exitCode !== undefined ? { exitCode } : {}),
      ...(reason ? { reason } : {}),
      ...(neverStarted ? { neverStarted } : {}),
      ...(neverStarted && /CannotPull|pull image|manifest/i.test(reason ?? "") ? { pullFailed: true } : {}),
    };
  }
  const running = status === "RUNNING" || (STOPPING.includes(status) && startedAt !== undefined);
  return {
    phase: running ? "running" : "pending",
    lastStatus: status,
    ...version,
    ...(startedAt ? { startedAt } : {}),
  };
}
