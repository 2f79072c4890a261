import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import type { SQSEvent } from "aws-lambda";
import { buildCloudDeps } from "../../hosts/cloud.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION, startQueueEngine } from "../../shared/adapters/local/engines.ts";
import { ensureQueues, type QueueUrls, sqsProvisionQueue } from "../../shared/adapters/sqs/queues.ts";
import { provisionHandler, taskEventsHandler } from "../../shared/app/queue-handlers.ts";
import { CloudConfig } from "../../shared/config.ts";
import type { Clock } from "../../shared/ports/clock.ts";
import type { LaunchRequest } from "../../shared/ports/cloud.ts";
import type { CloudJobDeps } from "../../shared/usecases/deps.ts";
import { type TestApp, testApp } from "./app.ts";
import { type FakeEcs, fakeEcs } from "./fake-ecs.ts";

export const ECS_TEST_CONFIG = {
  cluster: "arn:aws:ecs:us-east-1:123456789012:cluster/berth-gpu",
  taskDefinition: "berth-test-job",
  capacityProviders: { default: "berth-test-l4", L4: "berth-test-l4", A10G: "berth-test-a10g" },
  logGroup: "/berth/test/jobs",
  runTaskPerSecond: 1000,
  runTaskBurst: 1000,
};

/** A launch of a 2-GPU A10G job running `python train.py` (tests override what they look at). */
export const aLaunchRequest = (over: Partial<LaunchRequest> = {}): LaunchRequest => ({
  reservationId: "01m81tsa93f8ffyw297gqps1j1",
  attempt: 1,
  workspaceId: "default",
  jobId: "01m81tsa93f8ffyw297gqps1j2",
  command: ["python", "train.py"],
  environment: [{ name: "EPOCHS", value: "3" }],
  gpus: { count: 2, type: "A10G" },
  constraints: [],
  maxDuration: 3600,
  ...over,
});

/** SQS records as Lambda's event source mapping hands them over. */
export const sqsEvent = (messages: { id: string; body: string; receives?: number }[]): SQSEvent => ({
  Records: messages.map((m) => ({
    messageId: m.id,
    receiptHandle: m.id,
    body: m.body,
    attributes: {
      ApproximateReceiveCount: String(m.receives ?? 1),
      SentTimestamp: "0",
      SenderId: "test",
      ApproximateFirstReceiveTimestamp: "0",
    },
    messageAttributes: {},
    md5OfBody: "",
    eventSource: "aws:sqs",
    eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:berth-provision",
    awsRegion: "us-east-1",
  })),
});

/**
 * The control plane with cloud capacity on ECS, for tests: the real app and use cases on SQLite, the
 * provision and events queues on fauxqs, ECS and CloudWatch Logs faked at the SDK boundary. `drain` does
 * what the local poller (and Lambda's event source mapping) does once: receive, run the very handler,
 * delete what succeeded; failed messages are made visible again at once (their visibility timeout "passed").
 */
export async function cloudHarness(
  opts: {
    clock?: Clock;
    settings?: Partial<Omit<CloudConfig, "ecs" | "eks">>;
    latencyMs?: number;
    /** An EKS cluster too (a Kubernetes API stand-in): jobs of profiles with `cloudLauncher: eks` go there. */
    eks?: { endpoint: string; caData: string };
  } = {},
) {
  const queues = await startQueueEngine();
  const sqs = new SQSClient({
    endpoint: queues.endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  const urls: QueueUrls = await ensureQueues(sqs);
  const fake = fakeEcs({ latencyMs: opts.latencyMs });
  const config = CloudConfig.parse({
    region: "us-east-1",
    ecs: ECS_TEST_CONFIG,
    ...(opts.eks ? { eks: { cluster: "berth-eks", ...opts.eks } } : {}),
    ...opts.settings,
  });
  const cloud = buildCloudDeps(config, sqsProvisionQueue(sqs, urls.provision))!;
  const t: TestApp = await testApp({ cloud, clock: opts.clock });
  const deps = t.deps as CloudJobDeps;
  const provision = provisionHandler(deps);
  const events = taskEventsHandler(deps, "job");

  const receive = async (url: string, wait = 0): Promise<Message[]> =>
    (
      await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: url,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: wait,
          MessageSystemAttributeNames: ["All"],
        }),
      )
    ).Messages ?? [];

  return {
    t,
    deps,
    fake,
    sqs,
    urls,
    /** One round of the provision poller. Returns the bodies handled and the ids of those that failed. */
    async drain(wait = 0) {
      const messages = await receive(urls.provision, wait);
      if (messages.length === 0) return { handled: [] as string[], failed: [] as string[] };
      const result = await provision(
        sqsEvent(
          messages.map((m) => ({
            id: m.MessageId!,
            body: m.Body!,
            receives: Number(m.Attributes?.ApproximateReceiveCount ?? 1),
          })),
        ),
      );
      const failed = new Set(result.batchItemFailures.map((f) => f.itemIdentifier));
      const done = messages.filter((m) => !failed.has(m.MessageId!));
      const again = messages.filter((m) => failed.has(m.MessageId!));
      if (done.length)
        await sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: urls.provision,
            Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
          }),
        );
      if (again.length)
        await sqs.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: urls.provision,
            Entries: again.map((m, i) => ({
              Id: String(i),
              ReceiptHandle: m.ReceiptHandle!,
              VisibilityTimeout: 0,
            })),
          }),
        );
      return { handled: messages.map((m) => m.Body!), failed: [...failed] };
    },
    /** Runs the provision handler on a body, as if delivered (`receives` times so far). */
    deliver: (body: string, receives = 1) =>
      provision(sqsEvent([{ id: `m-${Math.random()}`, body, receives }])),
    /** Runs the events handler on event bodies. */
    events: (...bodies: string[]) => events(sqsEvent(bodies.map((body, i) => ({ id: `e-${i}`, body })))),
    /** Puts a body on the provision queue (a duplicate, say). */
    send: (body: string) => sqs.send(new SendMessageCommand({ QueueUrl: urls.provision, MessageBody: body })),
    async dlqDepth() {
      const out = await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: urls.provisionDlq,
          AttributeNames: ["ApproximateNumberOfMessages"],
        }),
      );
      return Number(out.Attributes?.ApproximateNumberOfMessages ?? 0);
    },
    async close() {
      fake.restore();
      sqs.destroy();
      await queues.stop();
    },
  };
}
export type CloudHarness = Awaited<ReturnType<typeof cloudHarness>>;
export type { FakeEcs };
