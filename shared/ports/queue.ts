import type { SQSBatchResponse, SQSEvent } from "aws-lambda";

/** An SQS-triggered handler: Lambda runs it, and so does the local server's queue poller. */
export type QueueHandler = (event: SQSEvent) => Promise<SQSBatchResponse>;
