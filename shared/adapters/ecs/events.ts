import { z } from "zod";
import type { TaskObservation } from "../../domain/cloud-reservation.ts";
import { EcsTask, observeEcsTask } from "./task-status.ts";

/** An EventBridge "ECS Task State Change" event, as the events queue delivers it (tolerant of additions). */
export const EcsTaskStateChange = z.looseObject({
  "detail-type": z.literal("ECS Task State Change"),
  source: z.literal("aws.ecs"),
  detail: EcsTask,
});

export type TaskEvent =
  | { kind: "task"; reservationId: string; taskArn: string; observation: TaskObservation }
  | { kind: "foreign"; why: string };

/**
 * Reads one events-queue message body. A task Berth started carries its reservation id in `startedBy`;
 * anything else (another event type, a task someone else started) is `foreign`: acknowledged and logged.
 */
export function parseTaskEvent(body: string, container: string): TaskEvent {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { kind: "foreign", why: "not JSON" };
  }
  const event = EcsTaskStateChange.safeParse(json);
  if (!event.success) return { kind: "foreign", why: "not an ECS Task State Change event" };
  const { detail } = event.data;
  if (!detail.startedBy) return { kind: "foreign", why: `task ${detail.taskArn} was not started by Berth` };
  return {
    kind: "task",
    reservationId: detail.startedBy,
    taskArn: detail.taskArn,
    observation: observeEcsTask(detail, container),
  };
}
