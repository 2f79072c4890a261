import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import type { SQSRecord } from "aws-lambda";
import { parseTaskEvent } from "../adapters/ecs/events.ts";
import { ProvisionMessage } from "../contracts/queues.ts";
import type { QueueHandler } from "../ports/queue.ts";
import { applyObservation } from "../usecases/cloud/cloud-tasks.ts";
import { failProvisioning, provision } from "../usecases/cloud/provision.ts";
import type { CloudJobDeps } from "../usecases/deps.ts";

export type { QueueHandler } from "../ports/queue.ts";

/**
 * Runs `handle` on each record with Powertools' batch processor and answers with the records that failed
 * (partial batch response: only those are retried). A full batch failure is answered the same way, not
 * thrown, so every host reads one shape.
 */
function batchHandler(
  handle: (record: SQSRecord) => Promise<void>,
  order: "parallel" | "in order" = "parallel",
): QueueHandler {
  const processor = new BatchProcessor(EventType.SQS);
  return (event) =>
    processPartialResponse(event, handle, processor, {
      throwOnFullBatchFailure: false,
      processInParallel: order === "parallel",
    });
}

const receives = (record: SQSRecord) => Number(record.attributes?.ApproximateReceiveCount ?? 1);

/**
 * The provision worker (specs/cloud.md): one `provision` per message. A body that is not a provision
 * message is logged and acknowledged (retrying cannot fix it). A failure is retried by the queue; on the
 * message's last receive the job is failed (`ProvisioningFailed`) before the message goes to the DLQ.
 */
export function provisionHandler(deps: CloudJobDeps): QueueHandler {
  return batchHandler(async (record) => {
    let message: ProvisionMessage;
    try {
      message = ProvisionMessage.parse(JSON.parse(record.body));
    } catch {
      deps.logger.warn("ignored a provision message that is not one", { messageId: record.messageId });
      return;
    }
    try {
      const outcome = await provision(deps, message);
      deps.logger.debug("provision", { ...message, outcome });
    } catch (err) {
      const count = receives(record);
      deps.logger.warn("provision failed; the queue will retry it", {
        ...message,
        receiveCount: count,
        error: (err as Error).message,
      });
      if (count >= deps.cloud.settings.maxReceives) {
        await failProvisioning(
          deps,
          message.reservationId,
          `${(err as Error).message} (tried ${count} times)`,
        ).catch((e: Error) =>
          deps.logger.error("could not fail a job whose provisioning failed", { error: e.message }),
        );
      }
      throw err;
    }
  });
}

/**
 * The events worker: ECS "Task State Change" events (EventBridge → SQS) applied to their reservations.
 * Events for tasks Berth did not start, or does not know, are logged and acknowledged; duplicates and
 * out-of-order events change nothing (see applyObservation). A batch is applied in order, one record after
 * the other: Powertools runs records in parallel by default, and a task's RUNNING and STOPPED events in one
 * batch then raced, the stop winning and the job's `started` never recorded.
 */
export function taskEventsHandler(deps: CloudJobDeps, container: string): QueueHandler {
  return batchHandler(async (record) => {
    const event = parseTaskEvent(record.body, container);
    if (event.kind === "foreign") {
      deps.logger.info("ignored a task event", { messageId: record.messageId, why: event.why });
      return;
    }
    const applied = await applyObservation(
      deps,
      event.reservationId,
      { launcher: "ecs", id: event.taskArn },
      event.observation,
    );
    if (applied === "unknown")
      deps.logger.info("ignored an event for a task Berth does not know", { taskArn: event.taskArn });
  }, "in order");
}
