import { type CloudConfig, cloudConfigured } from "../shared/config.ts";
import type { LauncherKind } from "../shared/domain/cloud-reservation.ts";
import type { CloudDeps, ProvisionQueue, TaskLauncher } from "../shared/ports/cloud.ts";

/**
 * A launcher whose code (and AWS or Kubernetes clients) is loaded on its first call: the API Lambda serves
 * agent polls too, and its cold start should not pay for ECS, CloudWatch Logs or Kubernetes clients that a
 * poll never uses.
 */
function lazyLauncher(kind: LauncherKind, load: () => Promise<TaskLauncher>): TaskLauncher {
  let loaded: Promise<TaskLauncher> | undefined;
  const get = () => {
    loaded ??= load();
    loaded.catch(() => {
      loaded = undefined;
    });
    return loaded;
  };
  return {
    kind,
    launch: async (request) => (await get()).launch(request),
    observe: async (tasks) => (await get()).observe(tasks),
    stop: async (task, reason, how) => (await get()).stop(task, reason, how),
    async output(task, cursor) {
      const launcher = await get();
      return launcher.output ? launcher.output(task, cursor) : { lines: [], cursor };
    },
    async network(task) {
      const launcher = await get();
      return launcher.network ? launcher.network(task) : undefined;
    },
  };
}

/**
 * Cloud capacity from its configuration, or undefined when none is configured (then `target: cloud` is
 * refused and `auto` stays on the fleet). Shared by the local server and the Lambdas; the AWS clients
 * use the SDK's usual credential chain.
 */
export function buildCloudDeps(config: CloudConfig, queue: ProvisionQueue): CloudDeps | undefined {
  if (!cloudConfigured(config)) return undefined;
  const launchers: Partial<Record<LauncherKind, TaskLauncher>> = {};
  const { ecs, eks } = config;
  if (ecs) {
    launchers.ecs = lazyLauncher("ecs", async () => {
      const [{ ECSClient }, { CloudWatchLogsClient }, { ecsLauncher }] = await Promise.all([
        import("@aws-sdk/client-ecs"),
        import("@aws-sdk/client-cloudwatch-logs"),
        import("../shared/adapters/ecs/ecs-launcher.ts"),
      ]);
      const logs = ecs.logGroup ? new CloudWatchLogsClient({ region: config.region }) : undefined;
      return ecsLauncher(new ECSClient({ region: config.region }), logs, ecs);
    });
  }
  if (eks) {
    launchers.eks = lazyLauncher("eks", async () => {
      const [{ fromNodeProviderChain }, { eksLauncher }, { eksToken }] = await Promise.all([
        import("@aws-sdk/credential-providers"),
        import("../shared/adapters/eks/eks-launcher.ts"),
        import("../shared/adapters/eks/token.ts"),
      ]);
      const credentials = fromNodeProviderChain();
      return eksLauncher(eks, () => eksToken({ cluster: eks.cluster, region: config.region!, credentials }));
    });
  }
  const families = [
    ...Object.entries(ecs?.capacityProviders ?? {}).map(([gpuType, name]) => ({ name, gpuType })),
    ...Object.keys(eks?.nodeSelectors ?? {}).map((gpuType) => ({ name: `eks:${gpuType}`, gpuType })),
  ].filter((f) => f.gpuType !== "default");
  return {
    launchers,
    defaultLauncher: config.defaultLauncher ?? (config.ecs ? "ecs" : "eks"),
    families,
    ...(eks ? { defaultImage: eks.defaultImage } : {}),
    queue,
    settings: {
      requeueAfterSeconds: config.requeueAfterSeconds,
      quietSeconds: config.quietSeconds,
      capacityRetries: config.capacityRetries,
      capacityRetryBaseSeconds: config.capacityRetryBaseSeconds,
      maxReceives: config.maxReceives,
    },
  };
}
