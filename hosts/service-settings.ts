import { z } from "zod";
import { ConfigError, json } from "../shared/config.ts";

/**
 * What `berth server` reads of its environment when it runs as the agent service (the Dockerfile's image on
 * Fargate, infra/agents.ts), beyond the local server's own settings.
 *
 * SST passes a linked resource to a container as `SST_RESOURCE_<Name>`, its properties as JSON (the same
 * data `Resource` from "sst" reads; parsed here so the image needs no SST package). When the table is linked,
 * the server is one host of the deployed stage: it uses that table and the stage's `ServerSecret`, so what
 * it signs the API Lambda verifies and the other way round. With the provision queue and the GPU cluster
 * linked too (as the API's are), it enqueues to the stage's queue and reads cloud jobs' logs for follows,
 * instead of starting an embedded queue.
 */
export interface ServiceSettings {
  /** The deployed stage's table and root secret, when SST links them, and its provision queue's URL. */
  linked?: { tableName: string; serverSecret: string; provisionQueueUrl?: string };
  /** Settings that linked resources stand for (the GPU cluster's as BERTH_ECS_*), applied under the env's own. */
  environment: Record<string, string>;
  /** Node's keep-alive timeout (seconds); above the load balancer's idle timeout, or it answers 502s. */
  keepAliveTimeoutSeconds?: number;
}

const ServiceEnv = z
  .object({
    SST_RESOURCE_Table: json(z.object({ name: z.string().min(1) })).optional(),
    SST_RESOURCE_ServerSecret: json(z.object({ value: z.string().min(1) })).optional(),
    SST_RESOURCE_ProvisionQueue: json(z.object({ url: z.url() })).optional(),
    SST_RESOURCE_GpuCluster: json(
      z.object({
        cluster: z.string().min(1),
        taskDefinition: z.string().min(1),
        container: z.string().min(1),
        capacityProviders: z.string().min(1),
        logGroup: z.string().min(1),
      }),
    ).optional(),
    SST_RESOURCE_SecretsKey: json(z.object({ id: z.string().min(1) })).optional(),
    BERTH_KEEPALIVE_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(3600).optional(),
  })
  // A table without the stage's secret would sign with a secret of its own: nothing the API issued would verify.
  .refine((e) => !e.SST_RESOURCE_Table || e.SST_RESOURCE_ServerSecret, {
    message: "required with SST_RESOURCE_Table (link the ServerSecret with the table)",
    path: ["SST_RESOURCE_ServerSecret"],
  });

/** Reads the service settings from an environment; a bad value is a `ConfigError` naming the variable. */
export function serviceSettings(env: Record<string, string | undefined>): ServiceSettings {
  const parsed = ServiceEnv.safeParse({
    SST_RESOURCE_Table: env.SST_RESOURCE_Table || undefined,
    SST_RESOURCE_ServerSecret: env.SST_RESOURCE_ServerSecret || undefined,
    SST_RESOURCE_ProvisionQueue: env.SST_RESOURCE_ProvisionQueue || undefined,
    SST_RESOURCE_GpuCluster: env.SST_RESOURCE_GpuCluster || undefined,
    SST_RESOURCE_SecretsKey: env.SST_RESOURCE_SecretsKey || undefined,
    BERTH_KEEPALIVE_TIMEOUT_SECONDS: env.BERTH_KEEPALIVE_TIMEOUT_SECONDS || undefined,
  });
  if (!parsed.success) throw new ConfigError(parsed.error);
  const e = parsed.data;
  const gpu = e.SST_RESOURCE_GpuCluster;
  return {
    linked:
      e.SST_RESOURCE_Table && e.SST_RESOURCE_ServerSecret
        ? {
            tableName: e.SST_RESOURCE_Table.name,
            serverSecret: e.SST_RESOURCE_ServerSecret.value,
            ...(e.SST_RESOURCE_ProvisionQueue
              ? { provisionQueueUrl: e.SST_RESOURCE_ProvisionQueue.url }
              : {}),
          }
        : undefined,
    // As hosts/lambda.ts gives the API Lambda the cluster infra/gpu.ts creates, and the secrets' KMS key.
    environment: {
      ...(gpu
        ? {
            BERTH_ECS_CLUSTER: gpu.cluster,
            BERTH_ECS_TASK_DEFINITION: gpu.taskDefinition,
            BERTH_ECS_CONTAINER: gpu.container,
            BERTH_ECS_CAPACITY_PROVIDERS: gpu.capacityProviders,
            BERTH_ECS_LOG_GROUP: gpu.logGroup,
          }
        : {}),
      ...(e.SST_RESOURCE_SecretsKey ? { BERTH_KMS_KEY_ID: e.SST_RESOURCE_SecretsKey.id } : {}),
    },
    keepAliveTimeoutSeconds: e.BERTH_KEEPALIVE_TIMEOUT_SECONDS,
  };
}
