import { QUEUE_DEFINITIONS } from "../shared/contracts/queues";
import { gpuCluster, gpuOutputs } from "./gpu";
import { COMMON_ENVIRONMENT } from "./hosting";
import { provisionQueue } from "./queues";
import { secretsKey, serverSecret } from "./secrets";
import { table } from "./storage";

const worker = {
  runtime: "nodejs22.x" as const,
  architecture: "arm64" as const,
  memory: "512 MB" as const,
  link: [table, serverSecret, provisionQueue, gpuCluster, secretsKey],
  environment: COMMON_ENVIRONMENT,
};

/**
 * The provision worker: takes cloud hand-offs from the provision queue and launches them (10 messages a
 * batch, partial batch responses: only failed messages come back). Its timeout stays under the queue's
 * visibility timeout, so a message is not redelivered while it is being handled.
 */
provisionQueue.subscribe(
  { ...worker, handler: "functions/provision-worker.handler", timeout: "60 seconds" },
  {
    batch: { size: 10, window: "1 second", partialResponses: true },
    // Two workers at most, each with a RunTask token bucket of 10/s: together under ECS's ~20 calls/s.
    // (The event source's own limit, not reserved concurrency, which would throttle and bounce messages.)
    transform: { eventSourceMapping: { scalingConfig: { maximumConcurrency: 2 } } },
  },
);

const events = QUEUE_DEFINITIONS.events;
export const taskEventsDlq = new sst.aws.Queue("TaskEventsDlq", {
  transform: { queue: { messageRetentionSeconds: 14 * 24 * 3600 } },
});
/** ECS "Task State Change" events of the GPU cluster, routed by EventBridge. */
export const taskEventsQueue = new sst.aws.Queue("TaskEventsQueue", {
  visibilityTimeout: `${events.visibilityTimeoutSeconds} seconds`,
  dlq: { queue: taskEventsDlq.arn, retry: events.maxReceiveCount },
});
const rule = new aws.cloudwatch.EventRule("EcsTaskStateChange", {
  eventPattern: $jsonStringify({
    source: ["aws.ecs"],
    "detail-type": ["ECS Task State Change"],
    detail: { clusterArn: [gpuOutputs.clusterArn] },
  }),
});
new aws.cloudwatch.EventTarget("EcsTaskStateChangeToQueue", { rule: rule.name, arn: taskEventsQueue.arn });
new aws.sqs.QueuePolicy("TaskEventsFromEventBridge", {
  queueUrl: taskEventsQueue.url,
  policy: $jsonStringify({
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Principal: { Service: "events.amazonaws.com" },
        Action: "sqs:SendMessage",
        Resource: taskEventsQueue.arn,
        Condition: { ArnEquals: { "aws:SourceArn": rule.arn } },
      },
    ],
  }),
});
taskEventsQueue.subscribe(
  { ...worker, handler: "functions/task-events-worker.handler", timeout: "30 seconds" },
  { batch: { size: 10, window: "1 second", partialResponses: true } },
);

/** The reconciler: every minute, looks up cloud tasks not heard of for a while (lost events, dead workers). */
export const reconciler = new sst.aws.CronV2("Reconciler", {
  schedule: "rate(1 minute)",
  function: { ...worker, handler: "functions/reconciler.handler", timeout: "55 seconds" },
});
