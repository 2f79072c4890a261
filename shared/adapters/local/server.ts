import type { AddressInfo } from "node:net";
import { SQSClient } from "@aws-sdk/client-sqs";
import { serve } from "@hono/node-server";
import { buildCloudDeps } from "../../app/build-cloud.ts";
import { buildAppDeps } from "../../app/build-deps.ts";
import { createApp } from "../../app/create-app.ts";
import type { LocalConfig } from "../../config.ts";
import { DEFAULT_WORKSPACE } from "../../domain/workspace.ts";
import type { Logger } from "../../ports/logger.ts";
import { bootstrapWorkspace, issueAdminKey } from "../../usecases/bootstrap.ts";
import type { CloudJobDeps } from "../../usecases/cloud-handoff.ts";
import { sweepExpired, sweepJobs } from "../../usecases/sweep.ts";
import { createDb, ensureTable } from "../dynamo/client.ts";
import { ensureQueues, type QueueUrls, sqsProvisionQueue } from "../sqs/queues.ts";
import {
  dataPaths,
  ensureDataDir,
  loadOrCreateServerSecret,
  lockDataDir,
  readIfExists,
  writePrivateFile,
} from "./data-dir.ts";
import {
  type Engine,
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  startDynaliteWorker,
  startQueueEngine,
} from "./engines.ts";

export interface LocalServer {
  url: string;
  dataDir: string;
  adminKeyPath: string;
  /** The admin key, only when this start created it (first start, or `newAdminKey`). */
  newAdminKey?: string;
  /** True when the data dir has a workspace but no admin-key file. */
  adminKeyMissing: boolean;
  /** What cloud capacity this server hands jobs to, for people ("ECS cluster gpu"), if any. */
  cloud?: string;
  /** Where the embedded SQS (fauxqs) listens, and the queues' URLs. */
  queues: { endpoint: string; urls: QueueUrls };
  stop(): Promise<void>;
}

/**
 * The embedded control plane: dynalite persisted in the data dir, fauxqs in process, the same app and
 * AWS SDK clients Lambda uses, served by @hono/node-server. A restart on the same data dir loses nothing.
 */
export async function startLocalServer(
  config: LocalConfig,
  logger: Logger,
  opts: { newAdminKey?: boolean } = {},
): Promise<LocalServer> {
  const paths = dataPaths(config.dataDir);
  await ensureDataDir(paths.dir);
  const unlock = await lockDataDir(paths.dir);
  const serverSecret = await loadOrCreateServerSecret(paths.serverSecret);

  const engines: Engine[] = [];
  const stopEngines = async () => {
    for (const engine of engines.reverse()) await engine.stop().catch(() => {});
    await unlock();
  };
  try {
    const dynamo = await startDynaliteWorker(paths.dynamo);
    engines.push(dynamo);
    const db = createDb(config.tableName, {
      endpoint: dynamo.endpoint,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    });
    await ensureTable(db);

    const queues = await startQueueEngine();
    engines.push(queues);
    const sqs = new SQSClient({
      endpoint: queues.endpoint,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    });
    const queueUrls = await ensureQueues(sqs);
    const cloud = buildCloudDeps(config.cloud, sqsProvisionQueue(sqs, queueUrls.provision));

    const deps = buildAppDeps({
      db,
      serverSecret,
      logger,
      config: config.app,
      background: "detached",
      cloud,
    });
    const boot = await bootstrapWorkspace(deps, DEFAULT_WORKSPACE, (token) =>
      writePrivateFile(paths.adminKey, `${token}\n`),
    );
    let newAdminKey = boot.created ? boot.token : undefined;
    if (!newAdminKey && opts.newAdminKey) {
      newAdminKey = (await issueAdminKey(deps, DEFAULT_WORKSPACE, "admin (reissued)")).token;
      await writePrivateFile(paths.adminKey, `${newAdminKey}\n`);
    }
    const adminKeyMissing = !newAdminKey && !(await readIfExists(paths.adminKey));

    // The queue workers' code (Powertools, the handlers) is loaded only when cloud capacity is configured.
    const cloudWorkers = cloud
      ? (await import("./cloud-workers.ts")).startCloudWorkers({
          deps: deps as CloudJobDeps,
          sqs,
          urls: queueUrls,
          config: config.cloud,
          logger,
        })
      : undefined;
    const cloudSweep = async () => cloudWorkers?.sweep();

    // The expiry sweeper (and, with cloud capacity, the reconciler) runs in process; one sweep at a time.
    let sweeping: Promise<unknown> | undefined;
    const sweeper = setInterval(() => {
      sweeping ??= Promise.all([sweepExpired(deps), sweepJobs(deps), cloudSweep()])
        .catch((err: Error) => logger.error("sweep failed", { error: err.message }))
        .finally(() => {
          sweeping = undefined;
        });
    }, config.sweepIntervalSeconds * 1000);

    const app = createApp(deps);
    const http = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
      const server = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, () =>
        resolve(server),
      );
      server.once("error", reject);
    });
    const { port } = http.address() as AddressInfo;
    const shownHost = config.host.includes(":") ? `[${config.host}]` : config.host;

    let stopping: Promise<void> | undefined;
    return {
      url: `http://${shownHost}:${port}`,
      dataDir: paths.dir,
      adminKeyPath: paths.adminKey,
      newAdminKey,
      adminKeyMissing,
      queues: { endpoint: queues.endpoint, urls: queueUrls },
      cloud:
        [
          config.cloud.ecs && `ECS cluster ${config.cloud.ecs.cluster}`,
          config.cloud.eks && `EKS cluster ${config.cloud.eks.cluster}`,
        ]
          .filter(Boolean)
          .join(", ") || undefined,
      stop: () => {
        stopping ??= (async () => {
          clearInterval(sweeper);
          // Waiting polls answer now (empty), so agents see a clean response, not a reset.
          deps.feedWatcher.close();
          await sweeping;
          await cloudWorkers?.stop();
          await new Promise<void>((resolve) => {
            http.close(() => resolve());
            // Long polls and keep-alive connections would otherwise hold the close open.
            if ("closeAllConnections" in http) http.closeAllConnections();
          });
          await deps.background.drain();
          sqs.destroy();
          db.doc.destroy();
          await stopEngines();
        })();
        return stopping;
      },
    };
  } catch (err) {
    await stopEngines();
    throw err;
  }
}
