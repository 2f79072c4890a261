import { existsSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { networkInterfaces } from "node:os";
import { SQSClient } from "@aws-sdk/client-sqs";
import { serve } from "@hono/node-server";
import {
  dataPaths,
  ensureDataDir,
  lockDataDir,
  readIfExists,
  writePrivateFile,
} from "../shared/adapters/local/data-dir.ts";
import {
  type Engine,
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  startQueueEngine,
} from "../shared/adapters/local/engines.ts";
import { ensureQueues, type QueueUrls, sqsProvisionQueue } from "../shared/adapters/sqs/queues.ts";
import { createApp } from "../shared/app/create-app.ts";
import type { LocalConfig, StorageConfig } from "../shared/config.ts";
import { DEFAULT_WORKSPACE } from "../shared/domain/workspace.ts";
import type { ProvisionQueue } from "../shared/ports/cloud.ts";
import type { Logger } from "../shared/ports/logger.ts";
import { sweepApplications } from "../shared/usecases/applications/reconcile.ts";
import type { CloudJobDeps } from "../shared/usecases/deps.ts";
import { sweepExpired, sweepJobs } from "../shared/usecases/feed/sweep.ts";
import { bootstrapWorkspace, issueAdminKey } from "../shared/usecases/identity/bootstrap.ts";
import { sweepLabs } from "../shared/usecases/labs/images.ts";
import { sweepNamespaces } from "../shared/usecases/namespaces/sweep.ts";
import { buildAppDeps } from "./app-deps.ts";
import { answerClientErrors } from "./client-errors.ts";
import { buildCloudDeps } from "./cloud.ts";
import { serverSecretOf } from "./server-secret.ts";
import { type ServiceSettings, serviceSettings } from "./service-settings.ts";
import { openStorage, sqlitePath } from "./storage.ts";

export interface LocalServer {
  /** Where this machine reaches it (loopback when it listens on every address). */
  url: string;
  /** With --host 0.0.0.0: this machine's addresses, where others reach it. */
  addresses: string[];
  dataDir: string;
  adminKeyPath: string;
  /** The storage engine, for people ("sqlite /path/berth.db", "postgres host:5432/berth"). */
  storage: string;
  /** The admin key, only when this start created it (first start, or `newAdminKey`). */
  newAdminKey?: string;
  /** True when the data dir has a workspace but no admin-key file. */
  adminKeyMissing: boolean;
  /** What cloud capacity this server hands jobs to, for people ("ECS cluster gpu"), if any. */
  cloud?: string;
  /** Where the embedded SQS (fauxqs) listens, and the queues' URLs; none for a linked service. */
  queues?: { endpoint: string; urls: QueueUrls };
  /** A host of a deployed stage (SST linked its table and secret): no admin key, no sweeper, no embedded queue. */
  linked: boolean;
  stop(): Promise<void>;
}

/** A data dir made by Berth 0.1, whose table is in dynalite's files: nothing here can read it in place. */
export class OldDataDirError extends Error {
  constructor(dir: string) {
    super(
      `the data dir ${dir} was made by an earlier Berth (its data is in ${dir}/dynamo, dynalite's files), and this ` +
        `version keeps its data in ${sqlitePath(dir)}. Move it with:\n` +
        `  npm install --no-save dynalite@4\n` +
        `  berth server export --from-dynalite ${dir}/dynamo berth-export.jsonl\n` +
        `  berth --data-dir ${dir} server import berth-export.jsonl\n` +
        `or start with another --data-dir. Nothing was changed.`,
    );
    this.name = "OldDataDirError";
  }
}

/** A data dir with dynalite's files and no SQLite database: made by Berth 0.1. */
export const isOldDataDir = (dir: string) =>
  existsSync(dataPaths(dir).dynamo) && !existsSync(sqlitePath(dir));

/**
 * `berth server`: the control plane in one process. Storage is SQLite in the data dir (the default), one
 * PostgreSQL database shared by several servers, or a DynamoDB table; the queue is fauxqs in process; the
 * app is the very one Lambda runs, served by @hono/node-server. A restart loses nothing.
 *
 * As the agent service of a deployed stage (SST links its table and secret, `service.linked`), it is one host
 * among the stage's Lambdas: it uses their table and secret, creates no workspace (operators run
 * `berth workspaces create`, as for Lambda) and leaves sweeping to the sweeper Lambda.
 */
export async function startLocalServer(
  config: LocalConfig,
  logger: Logger,
  opts: { newAdminKey?: boolean; service?: ServiceSettings } = {},
): Promise<LocalServer> {
  const service = opts.service ?? serviceSettings(process.env);
  const linked = service.linked;
  const storageConfig = linked ? linkedStorage(config, linked.tableName) : config.storage;
  const paths = dataPaths(config.dataDir);
  if (storageConfig.engine === "sqlite" && isOldDataDir(paths.dir)) throw new OldDataDirError(paths.dir);
  await ensureDataDir(paths.dir);
  // An embedded database belongs to one process; PostgreSQL and DynamoDB are shared by design.
  const unlock = storageConfig.engine === "sqlite" ? await lockDataDir(paths.dir) : async () => {};

  const engines: Engine[] = [];
  const stopEngines = async () => {
    for (const engine of engines.reverse()) await engine.stop().catch(() => {});
    await unlock();
  };
  try {
    const storage = await openStorage(storageConfig, paths.dir);
    engines.push({ endpoint: storage.store.describe, stop: () => storage.store.close() });
    const serverSecret = linked?.serverSecret ?? (await serverSecretOf(storage.store, paths.serverSecret));

    // A linked service hands cloud jobs to the stage's provision queue (its workers are Lambdas); the local
    // server runs fauxqs in process, and its workers with it.
    let queues: { endpoint: string; sqs: SQSClient; urls: QueueUrls } | undefined;
    let provisionQueue: ProvisionQueue | undefined;
    if (linked) {
      if (linked.provisionQueueUrl)
        provisionQueue = sqsProvisionQueue(new SQSClient({}), linked.provisionQueueUrl);
    } else {
      const engine = await startQueueEngine();
      engines.push(engine);
      const sqs = new SQSClient({
        endpoint: engine.endpoint,
        region: LOCAL_REGION,
        credentials: LOCAL_CREDENTIALS,
      });
      queues = { endpoint: engine.endpoint, sqs, urls: await ensureQueues(sqs) };
      provisionQueue = sqsProvisionQueue(sqs, queues.urls.provision);
    }
    const cloud = provisionQueue ? buildCloudDeps(config.cloud, provisionQueue) : undefined;

    const deps = buildAppDeps({
      store: storage.store,
      crossProcess: storage.crossProcess,
      serverSecret,
      logger,
      config: config.app,
      background: "detached",
      cloud,
    });
    // A linked service issues no admin key: it would land on a task's disk and in its logs.
    const boot = linked
      ? { created: false as const }
      : await bootstrapWorkspace(deps, DEFAULT_WORKSPACE, (token) =>
          writePrivateFile(paths.adminKey, `${token}\n`),
        );
    let newAdminKey = boot.created ? boot.token : undefined;
    if (!linked && !newAdminKey && opts.newAdminKey) {
      newAdminKey = (await issueAdminKey(deps, DEFAULT_WORKSPACE, "admin (reissued)")).token;
      await writePrivateFile(paths.adminKey, `${newAdminKey}\n`);
    }
    const adminKeyMissing = !linked && !newAdminKey && !(await readIfExists(paths.adminKey));

    // The queue workers' code (Powertools, the handlers) is loaded only when cloud capacity is configured.
    const cloudWorkers =
      cloud && queues
        ? (await import("./cloud-workers.ts")).startCloudWorkers({
            deps: deps as CloudJobDeps,
            sqs: queues.sqs,
            urls: queues.urls,
            config: config.cloud,
            logger,
          })
        : undefined;

    // The sweeper (expiry, lost devices, waiting jobs, namespaces being deleted; with cloud capacity, the reconciler) runs in process,
    // one sweep at a time; about once an hour it also collects garbage the engine has no TTL for.
    let sweeping: Promise<unknown> | undefined;
    let lastCollect = 0;
    // No sweep anywhere for this long (three missed sweeps, and at least a device TTL): every server was down.
    const sweepGapMs = Math.max(3 * config.sweepIntervalSeconds, config.app.deviceTtlSeconds) * 1000;
    const sweep = async () => {
      await Promise.all([
        sweepExpired(deps),
        sweepJobs(deps, { gapMs: sweepGapMs }),
        sweepNamespaces(deps),
        sweepApplications(deps),
        sweepLabs(deps),
        cloudWorkers?.sweep(),
      ]);
      if (Date.now() - lastCollect > 3600_000) {
        lastCollect = Date.now();
        const collected = await storage.store.collectGarbage(Math.floor(Date.now() / 1000));
        if (collected > 0) logger.info("collected expired items", { count: collected });
      }
    };
    // A linked service leaves sweeping to the stage's sweeper Lambda (every task sweeping every few seconds
    // would only add reads).
    const sweeper = linked
      ? undefined
      : setInterval(() => {
          sweeping ??= sweep()
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
    answerClientErrors(http as Server);
    if (service.keepAliveTimeoutSeconds) {
      // Behind a load balancer: Node must not close an idle connection the balancer may still reuse (a 502).
      // The headers timeout stays above it, or a reused connection's next request could be cut first.
      (http as Server).keepAliveTimeout = service.keepAliveTimeoutSeconds * 1000;
      (http as Server).headersTimeout = service.keepAliveTimeoutSeconds * 1000 + 1000;
    }
    const { port } = http.address() as AddressInfo;
    const shownHost = config.host.includes(":") ? `[${config.host}]` : config.host;
    // Listening on every address: this machine reaches it on loopback, others on its addresses.
    const anyAddress = config.host === "0.0.0.0" || config.host === "::";
    const localUrl = anyAddress ? `http://127.0.0.1:${port}` : `http://${shownHost}:${port}`;
    const addresses = anyAddress
      ? Object.values(networkInterfaces())
          .flat()
          .filter((a) => a && !a.internal && a.family === "IPv4")
          .map((a) => `http://${a!.address}:${port}`)
      : [];
    // The CLI run beside it (same data dir) finds this port, whatever PORT said.
    if (!linked) await writePrivateFile(paths.endpoint, `${localUrl}\n`);

    let stopping: Promise<void> | undefined;
    return {
      url: localUrl,
      addresses,
      dataDir: paths.dir,
      adminKeyPath: paths.adminKey,
      storage: storage.store.describe,
      newAdminKey,
      adminKeyMissing,
      ...(queues ? { queues: { endpoint: queues.endpoint, urls: queues.urls } } : {}),
      linked: linked !== undefined,
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
            // Idle keep-alive connections go now; answers being written (the polls and follow streams the
            // watcher just ended) get a moment to finish before whatever is left is cut.
            if ("closeIdleConnections" in http) http.closeIdleConnections();
            setTimeout(() => {
              if ("closeAllConnections" in http) http.closeAllConnections();
            }, 1000).unref();
          });
          await deps.background.drain();
          queues?.sqs.destroy();
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

/** The stage's linked table, on the endpoint and region this server was given (DynamoDB Local in tests). */
function linkedStorage(config: LocalConfig, table: string): StorageConfig {
  const given = config.storage.engine === "dynamodb" ? config.storage : undefined;
  return {
    engine: "dynamodb",
    table,
    endpoint: given?.endpoint,
    region: given?.region ?? config.cloud.region,
  };
}
