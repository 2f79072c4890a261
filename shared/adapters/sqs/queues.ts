import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SendMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { QUEUE_DEFINITIONS, type QueueName } from "../../contracts/queues.ts";
import type { ProvisionQueue } from "../../ports/cloud.ts";

export type QueueUrls = Record<QueueName, string> & { provisionDlq: string; eventsDlq: string };

/** Creates the queues and their dead-letter queues when absent (CreateQueue is idempotent). */
export async function ensureQueues(sqs: SQSClient): Promise<QueueUrls> {
  const urls: Record<string, string> = {};
  for (const [key, def] of Object.entries(QUEUE_DEFINITIONS)) {
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
    urls[key] = main.QueueUrl!;
    urls[`${key}Dlq`] = dlq.QueueUrl!;
  }
  return urls as QueueUrls;
}

/** The provision queue on SQS (fauxqs locally). */
export function sqsProvisionQueue(sqs: SQSClient, queueUrl: string): ProvisionQueue {
  return {
    async send(message, delaySeconds = 0) {
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: queueUrl,
          MessageBody: JSON.stringify(message),
          ...(delaySeconds > 0 ? { DelaySeconds: Math.min(900, Math.round(delaySeconds)) } : {}),
        }),
      );
    },
  };
}
