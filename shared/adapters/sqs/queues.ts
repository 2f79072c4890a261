import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from "@aws-sdk/client-sqs";

/**
 * The queues, declared once: infra/queues.ts creates them in AWS from this, and the local server
 * creates the same queues in fauxqs. Messages are hints ("look at reservation X"), never the data.
 */
export const QUEUE_DEFINITIONS = {
  provision: {
    name: "berth-provision",
    /** Longer than the worker's timeout, so a message is not redelivered while it is being handled. */
    visibilityTimeoutSeconds: 120,
    maxReceiveCount: 5,
  },
} as const;
export type QueueName = keyof typeof QUEUE_DEFINITIONS;

export interface QueueUrls {
  provision: string;
  provisionDlq: string;
}

/** Creates the queues and their dead-letter queues when absent (CreateQueue is idempotent). */
export async function ensureQueues(sqs: SQSClient): Promise<QueueUrls> {
  const def = QUEUE_DEFINITIONS.provision;
  const dlq = await sqs.send(new CreateQueueCommand({ QueueName: `${def.name}-dlq` }));
  const dlqArn = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ["QueueArn"] }),
  );
  const main = await sqs.send(
    new CreateQueueCommand({
      QueueName: def.name,
      Attributes: {
        VisibilityTimeout: String(def.visibilityTimeoutSeconds),
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: dlqArn.Attributes?.QueueArn,
          maxReceiveCount: String(def.maxReceiveCount),
        }),
      },
    }),
  );
  return { provision: main.QueueUrl!, provisionDlq: dlq.QueueUrl! };
}
