import { describe, expect, it } from "vitest";
import { serviceSettings } from "../../hosts/service-settings.ts";
import { ConfigError } from "../../shared/config.ts";

/** What SST injects into a linked Fargate service (infra/agents.ts links these). */
const LINKED = {
  SST_RESOURCE_Table: JSON.stringify({ name: "berth-prod-Table", type: "sst.aws.Dynamo" }),
  SST_RESOURCE_ServerSecret: JSON.stringify({ value: "s3cret", type: "sst.sst.Secret" }),
  SST_RESOURCE_ProvisionQueue: JSON.stringify({ url: "https://sqs.us-east-1.amazonaws.com/1/provision" }),
  SST_RESOURCE_GpuCluster: JSON.stringify({
    cluster: "berth-prod-gpu",
    taskDefinition: "berth-prod-job",
    container: "job",
    capacityProviders: "l4=berth-prod-l4",
    logGroup: "/berth/berth-prod/jobs",
  }),
  SST_RESOURCE_SecretsKey: JSON.stringify({
    id: "arn:aws:kms:us-east-1:1:key/abc",
    type: "sst.sst.Linkable",
  }),
};

describe("the agent service's settings from SST's linked resources", () => {
  it("uses the stage's table, secret and provision queue, and the GPU cluster's settings", () => {
    const s = serviceSettings({ ...LINKED, BERTH_KEEPALIVE_TIMEOUT_SECONDS: "125" });
    expect(s.linked).toEqual({
      tableName: "berth-prod-Table",
      serverSecret: "s3cret",
      provisionQueueUrl: "https://sqs.us-east-1.amazonaws.com/1/provision",
    });
    expect(s.environment).toEqual({
      BERTH_ECS_CLUSTER: "berth-prod-gpu",
      BERTH_ECS_TASK_DEFINITION: "berth-prod-job",
      BERTH_ECS_CONTAINER: "job",
      BERTH_ECS_CAPACITY_PROVIDERS: "l4=berth-prod-l4",
      BERTH_ECS_LOG_GROUP: "/berth/berth-prod/jobs",
      BERTH_KMS_KEY_ID: "arn:aws:kms:us-east-1:1:key/abc",
    });
    expect(s.keepAliveTimeoutSeconds).toBe(125);
  });

  it("is a plain local server without them", () => {
    expect(serviceSettings({})).toEqual({
      linked: undefined,
      environment: {},
      keepAliveTimeoutSeconds: undefined,
    });
  });

  it("refuses a table without the stage's secret, and a resource that is not what SST writes, by name", () => {
    const bad = (env: Record<string, string>) => {
      try {
        serviceSettings(env);
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as Error).message;
      }
      throw new Error("accepted");
    };
    expect(bad({ SST_RESOURCE_Table: LINKED.SST_RESOURCE_Table })).toContain("SST_RESOURCE_ServerSecret");
    expect(bad({ ...LINKED, SST_RESOURCE_GpuCluster: "{not json" })).toContain("SST_RESOURCE_GpuCluster");
    expect(bad({ ...LINKED, SST_RESOURCE_ProvisionQueue: JSON.stringify({ url: "nope" }) })).toContain(
      "SST_RESOURCE_ProvisionQueue",
    );
  });
});
