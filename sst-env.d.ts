/* Types of the resources infra/ links to functions, in the shape `sst deploy` / `sst dev` generate
   (they regenerate this file). Kept in the repo so functions/ type-check without a deploy. */
import "sst";

declare module "sst" {
  export interface Resource {
    Api: { name: string; type: "sst.aws.Function"; url: string };
    GpuCluster: {
      type: "sst.sst.Linkable";
      cluster: string;
      taskDefinition: string;
      container: string;
      capacityProviders: string;
      logGroup: string;
    };
    ProvisionDlq: { type: "sst.aws.Queue"; url: string };
    ProvisionQueue: { type: "sst.aws.Queue"; url: string };
    TaskEventsQueue: { type: "sst.aws.Queue"; url: string };
    SecretsKey: { type: "sst.sst.Linkable"; id: string };
    ServerSecret: { type: "sst.sst.Secret"; value: string };
    Table: { name: string; type: "sst.aws.Dynamo" };
  }
}
export {};
