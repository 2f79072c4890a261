import { z } from "zod";

/**
 * The queues, declared once: infra/ creates them in AWS from this, and the local server creates the same
 * queues in fauxqs. Messages are hints ("look at reservation X"), never the data.
 */
export const QUEUE_DEFINITIONS = {
  /** Cloud hand-off: `{reservationId, attempt}` for the provision worker. */
  provision: {
    name: "berth-provision",
    /** Longer than the worker's timeout, so a message is not redelivered while it is being handled. */
    visibilityTimeoutSeconds: 120,
    maxReceiveCount: 5,
  },
  /** ECS "Task State Change" events from EventBridge, for the events worker. */
  events: {
    name: "berth-task-events",
    visibilityTimeoutSeconds: 60,
    maxReceiveCount: 5,
  },
} as const;
export type QueueName = keyof typeof QUEUE_DEFINITIONS;

/** A provision queue message: look at this cloud reservation's attempt. */
export const ProvisionMessage = z.object({
  reservationId: z.string().min(1),
  attempt: z.number().int().positive(),
});
export type ProvisionMessage = z.infer<typeof ProvisionMessage>;
