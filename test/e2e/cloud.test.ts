import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { SendMessageBatchCommand, SQSClient } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalServer, startLocalServer } from "../../hosts/local-server.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../shared/adapters/local/engines.ts";
import { silentLogger } from "../../shared/adapters/logger.ts";
import { localConfigFromEnv } from "../../shared/config.ts";
import { type FakeEcs, fakeEcs } from "../helpers/fake-ecs.ts";
import { adminKeyOf, apiClient, spawnCli, tempDir } from "../helpers/processes.ts";
import { until } from "../helpers/wait.ts";

const EVENTS = resolve(import.meta.dirname, "../fixtures/ecs/task-state-change-events.json");

/**
 * The whole cloud pipeline in the local server (in this process, so ECS and CloudWatch Logs can be faked
 * at the SDK boundary): `berth run --target cloud` (a real CLI process) → POST /jobs → the provision queue
 * on fauxqs → the queue poller → the provision worker → RunTask; then a recorded sequence of ECS task
 * events on the events queue → the events worker → the job ends Finished with the exit code, and the CLI,
 * which followed the output from CloudWatch Logs, exits with it.
 */
describe("cloud jobs through the local server", () => {
  let server: LocalServer;
  let fake: FakeEcs;
  let dataDir: string;
  let sqs: SQSClient;

  beforeAll(async () => {
    fake = fakeEcs();
    dataDir = await tempDir("e2e-cloud");
    const config = localConfigFromEnv({
      BERTH_DATA_DIR: dataDir,
      PORT: "0",
      AWS_REGION: "us-east-1",
      BERTH_ECS_CLUSTER: "arn:aws:ecs:us-east-1:123456789012:cluster/berth-gpu",
      BERTH_ECS_TASK_DEFINITION: "berth-test-job",
      BERTH_ECS_CAPACITY_PROVIDERS: "default=berth-test-l4,L4=berth-test-l4",
      BERTH_ECS_LOG_GROUP: "/berth/test/jobs",
    });
    server = await startLocalServer(config, silentLogger);
    sqs = new SQSClient({
      endpoint: server.queues!.endpoint,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    });
  }, 60_000);
  afterAll(async () => {
    sqs?.destroy();
    await server?.stop();
    fake?.restore();
  });

  it("berth run --target cloud runs the job on ECS, streams its output and exits with its exit code", async () => {
    const cli = spawnCli(
      ["--endpoint", server.url, "run", "--target", "cloud", "--gpus", "1", "--", "python", "train.py"],
      { BERTH_DATA_DIR: dataDir },
    );

    // The poller hands the job to the provision worker, which launches one task.
    await until(async () => fake.tasks.size === 1, 30_000);
    const [task] = fake.tasks.values();
    expect(task!.overrides?.containerOverrides?.[0]?.command).toEqual(["python", "train.py"]);
    fake.log(task!.taskArn!, ["loading data", "epoch 1: loss 0.42"]);

    // ECS reports the task's life on the events queue, as EventBridge would.
    const recorded = (await readFile(EVENTS, "utf8"))
      .replaceAll("{{taskArn}}", task!.taskArn!)
      .replaceAll("{{reservationId}}", task!.startedBy!);
    const events = JSON.parse(recorded) as { detail: { lastStatus: string } }[];
    const send = (batch: unknown[]) =>
      sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: server.queues!.urls.events,
          Entries: batch.map((e, i) => ({ Id: String(i), MessageBody: JSON.stringify(e) })),
        }),
      );
    // A standard queue does not promise order between messages, and a task stopped before its start was
    // seen is recorded as finished without a start: so the stop is sent once the start has been applied.
    const stopped = events.filter((e) => e.detail.lastStatus === "STOPPED");
    await send(events.filter((e) => !stopped.includes(e)));
    await until(() => /started: running on ECS task/.test(cli.stderr()), 30_000);
    await send(stopped);

    expect(await cli.exited).toBe(3);
    expect(cli.stdout()).toBe("loading data\nepoch 1: loss 0.42\n");
    expect(cli.stderr()).toMatch(/queued for ECS GPU capacity/);
    expect(cli.stderr()).toMatch(/started: running on ECS task/);

    const admin = await adminKeyOf(dataDir);
    const jobs = await apiClient(
      () => server.url,
      () => admin,
    )<{ items: { status: string; exitCode?: number; target: string; host?: string }[] }>("GET", "/jobs");
    expect(jobs.items[0]).toMatchObject({ status: "Finished", exitCode: 3, target: "cloud", host: "cloud" });
  }, 90_000);
});
