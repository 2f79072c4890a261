import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { SQSEvent, SQSRecord } from "aws-lambda";
import type { Logger } from "../../ports/logger.ts";
import type { QueueHandler } from "../../ports/queue.ts";

/**
 * Does locally what Lambda's SQS event source mapping does in AWS: receives up to 10 messages (long
 * polling), hands them to the very handler Lambda runs as an SQS-event-shaped batch, and deletes the ones
 * it did not report failed. Failed ones come back after their visibility timeout, and after the queue's
 * maxReceiveCount go to its dead-letter queue (fauxqs applies the redrive policy as SQS does).
 */
export function startQueuePoller(input: {
  sqs: SQSClient;
  queueUrl: string;
  handler: QueueHandler;
  logger: Logger;
  region: string;
  waitSeconds?: number;
}): { stop(): Promise<void> } {
  const abort = new AbortController();
  const loop = (async () => {
    const arn = (
      await input.sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: input.queueUrl, AttributeNames: ["QueueArn"] }),
        { abortSignal: abort.signal },
      )
    ).Attributes?.QueueArn;
    while (!abort.signal.aborted) {
      try {
        const out = await input.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: input.queueUrl,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: input.waitSeconds ?? 10,
            MessageSystemAttributeNames: ["All"],
            MessageAttributeNames: ["All"],
          }),
          { abortSignal: abort.signal },
        );
        const messages = out.Messages ?? [];
        if (messages.length === 0) continue;
        const event: SQSEvent = {
          Records: messages.map(
            (m): SQSRecord => ({
              messageId: m.MessageId!,
              receiptHandle: m.ReceiptHandle!,
              body: m.Body ?? "",
              attributes: {
                ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? "1",
                SentTimestamp: m.Attributes?.SentTimestamp ?? String(Date.now()),
                SenderId: m.Attributes?.SenderId ?? "local",
                ApproximateFirstReceiveTimestamp:
                  m.Attributes?.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
              },
              messageAttributes: {},
              md5OfBody: m.MD5OfBody ?? "",
              eventSource: "aws:sqs",
              eventSourceARN: arn ?? "",
              awsRegion: input.region,
            }),
          ),
        };
        const failed = new Set((await input.handler(event)).batchItemFailures.map((f) => f.itemIdentifier));
        const done = messages.filter((m) => !failed.has(m.MessageId!));
        if (done.length > 0) {
          await input.sqs.send(
            new DeleteMessageBatchCommand({
              QueueUrl: input.queueUrl,
              Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
            }),
          );
        }
      } catch (err) {
        if (abort.signal.aborted) break;
        input.logger.warn("queue poller: receive failed; retrying", { error: (err as Error).message });
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  })().catch((err: Error) => {
    if (!abort.signal.aborted) input.logger.error("queue poller stopped", { error: err.message });
  });
  return {
    async stop() {
      abort.abort();
      await loop;
    },
  };
}
