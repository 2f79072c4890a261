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
      BERTH_KMS_KEY_ID: Resource.SecretsKey.id,
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
 * Whether the hosts agents talk to answer their `/healthz`: the API (where they log in) and, when the agent
 * routes are hosted elsewhere (`BERTH_AGENT_ENDPOINT`: the agent function or service), that host too. The
 * sweeper asks before losing devices: agents cannot reach a host that does not answer, and their silence
 * then is the control plane's outage, not theirs. A function linked to no API (no URL) counts it as up.
 */
export function agentHostsAnswer(): Promise<boolean> {
  const api = (Resource as unknown as { Api?: { url?: string } }).Api?.url;
  return hostsAnswer([api, process.env.BERTH_AGENT_ENDPOINT]);
}

/** Whether every host named (undefined: none) answers its `/healthz` within 10 s. */
export async function hostsAnswer(urls: (string | undefined)[]): Promise<boolean> {
  const named = urls.filter((u): u is string => Boolean(u));
  return (await Promise.all(named.map(healthy))).every(Boolean);
}

async function healthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(new URL("/healthz", url).href, { signal: AbortSignal.timeout(10_000) });
    return res.ok;
  } catch {
    return false;
  }
}
