/**
 * bench/provision: the provision worker's throughput. N cloud jobs are submitted (their hand-off messages
 * wait on the provision queue, on fauxqs), a share of the messages is delivered twice (duplicates put on
 * the queue), then W local pollers (as Lambda would run W concurrent workers) drain the queue through the
 * very handler Lambda runs, into ECS faked at the SDK boundary with a realistic RunTask: ~150 ms per call
 * and ECS's rate limit (20 calls/s, bursts of 100; over it, ThrottlingException). The launcher's own token
 * bucket keeps the workers under it. Reports messages per second, RunTask calls per job, and the
 * most tasks any job got (the target is exactly 1).
 * Run: npm run bench -- provision   (BENCH_JOBS, BENCH_DUPLICATES, BENCH_WORKERS override the sizes)
 */
import { SendMessageBatchCommand, SQSClient } from "@aws-sdk/client-sqs";
import { buildAppDeps } from "../hosts/app-deps.ts";
import { buildCloudDeps } from "../hosts/cloud.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION, startQueueEngine } from "../shared/adapters/local/engines.ts";
import { startQueuePoller } from "../shared/adapters/local/queue-poller.ts";
import { silentLogger } from "../shared/adapters/logger.ts";
import { sqliteStore } from "../shared/adapters/sqlite/sqlite-store.ts";
import { ensureQueues, sqsProvisionQueue } from "../shared/adapters/sqs/queues.ts";
import { createApp } from "../shared/app/create-app.ts";
import { provisionHandler } from "../shared/app/queue-handlers.ts";
import { AppConfig, CloudConfig } from "../shared/config.ts";
import { newServerSecret } from "../shared/domain/secrets.ts";
import type { CloudJobDeps } from "../shared/usecases/deps.ts";
import { bootstrapWorkspace } from "../shared/usecases/identity/bootstrap.ts";
import { ECS_TEST_CONFIG } from "../test/helpers/cloud.ts";
import { fakeEcs } from "../test/helpers/fake-ecs.ts";
import { load } from "./lib.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function benchProvision() {
  const jobsN = Number(process.env.BENCH_JOBS ?? 300);
  const duplicateShare = Number(process.env.BENCH_DUPLICATES ?? 0.3);
  const workers = Number(process.env.BENCH_WORKERS ?? 4);
  const ecsRate = { perSecond: 20, burst: 100 };
  const store = sqliteStore(":memory:");
  const queues = await startQueueEngine();
  const fake = fakeEcs({ latencyMs: 150, rate: ecsRate });
  const sqs = new SQSClient({
    endpoint: queues.endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  try {
    const urls = await ensureQueues(sqs);
    // The workers share this process's launcher, so its token bucket is the whole fleet's: just under ECS's
    // rate. (In AWS each worker container has its own: reserved concurrency × rate per worker ≤ 20/s.)
    const config = CloudConfig.parse({
      region: "us-east-1",
      ecs: { ...ECS_TEST_CONFIG, runTaskPerSecond: 18, runTaskBurst: 20 },
    });
    const deps = buildAppDeps({
      store,
      serverSecret: newServerSecret(),
      logger: silentLogger,
      config: AppConfig.parse({}),
      background: "detached",
      cloud: buildCloudDeps(config, sqsProvisionQueue(sqs, urls.provision)),
    });
    let admin = "";
    await bootstrapWorkspace(deps, "default", async (t) => {
      admin = t;
    });
    const app = createApp(deps);

    // Submit: each job's hand-off puts its message on the queue (nothing drains it yet).
    const reservations: string[] = [];
    await load(jobsN, 8, async (i) => {
      const res = await app.request("/api/v1/jobs", {
        method: "POST",
        headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
        body: JSON.stringify({ name: `bench-${i}`, exe: "train", target: "cloud", gpus: { count: 1 } }),
      });
      if (res.status !== 201) throw new Error(`submit: ${res.status} ${await res.text()}`);
      const job = (await res.json()) as { id: string };
      reservations.push((await deps.repos.jobs.get(job.id))!.cloudReservationId!);
    });
    // Duplicate deliveries: the same message again for a share of the jobs.
    const dupes = reservations.slice(0, Math.round(jobsN * duplicateShare));
    for (let i = 0; i < dupes.length; i += 10) {
      await sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: urls.provision,
          Entries: dupes.slice(i, i + 10).map((id, j) => ({
            Id: String(j),
            MessageBody: JSON.stringify({ reservationId: id, attempt: 1 }),
          })),
        }),
      );
    }
    const messages = jobsN + dupes.length;

    const started = performance.now();
    const handler = provisionHandler(deps as CloudJobDeps);
    const pollers = Array.from({ length: workers }, () =>
      startQueuePoller({
        sqs,
        queueUrl: urls.provision,
        handler,
        logger: silentLogger,
        region: LOCAL_REGION,
        waitSeconds: 1,
      }),
    );
    const launched = async () => {
      let n = 0;
      for (const id of reservations) if ((await deps.repos.cloudReservations.get(id))?.task) n++;
      return n;
    };
    const deadline = Date.now() + 600_000;
    while (fake.tasks.size < jobsN && Date.now() < deadline) await sleep(100);
    const wallMs = performance.now() - started;
    await sleep(2000); // let the duplicates and throttled retries drain
    await Promise.all(pollers.map((p) => p.stop()));
    await deps.background.drain();
    const recorded = await launched();
    const perJob = [...fake.tasksPerReservation().values()];
    return [
      {
        metric: "jobs / duplicate deliveries / concurrent workers",
        value: `${jobsN} / ${dupes.length} / ${workers}`,
      },
      { metric: "ECS fake: RunTask latency, rate limit", value: "150 ms, 20/s burst 100" },
      { metric: "jobs with a task recorded", value: `${recorded} of ${jobsN}` },
      { metric: "throughput (jobs launched/s)", value: Math.round((jobsN / wallMs) * 10_000) / 10 },
      { metric: "messages handled/s", value: Math.round((messages / wallMs) * 10_000) / 10 },
      { metric: "RunTask calls per job", value: Math.round((fake.state.runTaskCalls / jobsN) * 100) / 100 },
      { metric: "RunTask calls throttled by ECS", value: fake.state.throttled },
      { metric: "most tasks for one job (target 1)", value: Math.max(...perJob) },
    ];
  } finally {
    fake.restore();
    sqs.destroy();
    await queues.stop();
    await store.close();
  }
}
