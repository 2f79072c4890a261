import { SQSClient } from "@aws-sdk/client-sqs";
import { Resource } from "sst";
import { dynamoStore } from "../shared/adapters/dynamo/dynamo-store.ts";
import { jsonLogger } from "../shared/adapters/logger.ts";
import { sqsProvisionQueue } from "../shared/adapters/sqs/queues.ts";
import { lambdaConfig } from "../shared/config.ts";
import { buildAppDeps } from "./app-deps.ts";
import { buildCloudDeps } from "./cloud.ts";

/**
 * Composition root of every Lambda: the only place that reads SST's `Resource` and `process.env`.
 * Built once per container (at cold start) and reused by every invocation. The GPU cluster infra/gpu.ts
 * creates reaches the app as the same BERTH_ECS_* settings the local server reads (an operator's own
 * environment variables, e.g. BERTH_EKS_*, still apply).
 */
export function lambdaDeps() {
  const gpu = Resource.GpuCluster;
  const config = lambdaConfig({
    tableName: Resource.Table.name,
    serverSecret: Resource.ServerSecret.value,
    env: {
      ...process.env,
      BERTH_ECS_CLUSTER: gpu.cluster,
      BERTH_ECS_TASK_DEFINITION: gpu.taskDefinition,
      BERTH_ECS_CONTAINER: gpu.container,
      BERTH_ECS_CAPACITY_PROVIDERS: gpu.capacityProviders,
      BERTH_ECS_LOG_GROUP: gpu.logGroup,
    },
  });
  const queue = sqsProvisionQueue(new SQSClient({}), Resource.ProvisionQueue.url);
  const deps = buildAppDeps({
    store: dynamoStore(config.tableName),
    // Lambdas hear of other processes' feed writes through the shared change check.
    crossProcess: { kind: "check" },
    serverSecret: config.serverSecret,
    logger: jsonLogger(config.logLevel),
    config: config.app,
    cloud: buildCloudDeps(config.cloud, queue),
  });
  return { deps, config };
}

/**
 * Whether the API answers its `/healthz` (the sweeper asks before losing devices: agents cannot reach an API
 * that does not answer). A function that is not linked to the API (no URL) counts as up.
 */
export async function apiAnswers(): Promise<boolean> {
  const url = (Resource as unknown as { Api?: { url?: string } }).Api?.url;
  if (!url) return true;
  try {
    const res = await fetch(new URL("/healthz", url).href, { signal: AbortSignal.timeout(10_000) });
    return res.ok;
  } catch {
    return false;
  }
}
