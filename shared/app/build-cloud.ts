import { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import { ECSClient } from "@aws-sdk/client-ecs";
import { fromNodeProviderChain } from "@aws-sdk/credential-providers";
import { ecsLauncher } from "../adapters/ecs/ecs-launcher.ts";
import { eksLauncher } from "../adapters/eks/eks-launcher.ts";
import { eksToken } from "../adapters/eks/token.ts";
import { type CloudConfig, cloudConfigured } from "../config.ts";
import type { LauncherKind } from "../domain/cloud-reservation.ts";
import type { CloudDeps, ProvisionQueue, TaskLauncher } from "../ports/cloud.ts";

/**
 * Cloud capacity from its configuration, or undefined when none is configured (then `target: cloud` is
 * refused and `auto` stays on the fleet). Shared by the local server and the Lambdas; the AWS clients
 * use the SDK's usual credential chain.
 */
export function buildCloudDeps(config: CloudConfig, queue: ProvisionQueue): CloudDeps | undefined {
  if (!cloudConfigured(config)) return undefined;
  const launchers: Partial<Record<LauncherKind, TaskLauncher>> = {};
  if (config.ecs) {
    const ecs = new ECSClient({ region: config.region });
    const logs = config.ecs.logGroup ? new CloudWatchLogsClient({ region: config.region }) : undefined;
    launchers.ecs = ecsLauncher(ecs, logs, config.ecs);
  }
  if (config.eks) {
    const eks = config.eks;
    const credentials = fromNodeProviderChain();
    launchers.eks = eksLauncher(eks, () =>
      eksToken({ cluster: eks.cluster, region: config.region!, credentials }),
    );
  }
  return {
    launchers,
    defaultLauncher: config.defaultLauncher ?? (config.ecs ? "ecs" : "eks"),
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
