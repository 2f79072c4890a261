import { agentHosting, agentUrl } from "./agents";
import { api } from "./api";
import "./cron";
import { gpuOutputs } from "./gpu";
import { provisionDlq, provisionQueue } from "./queues";
import { table } from "./storage";
import { taskEventsDlq, taskEventsQueue } from "./workers";

/** What `sst deploy` prints: where the API and the agent routes are, and what backs them. */
export const outputs = {
  api: api.url,
  agents: agentUrl,
  agentHosting,
  table: table.name,
  provisionQueue: provisionQueue.url,
  provisionDlq: provisionDlq.url,
  taskEventsQueue: taskEventsQueue.url,
  taskEventsDlq: taskEventsDlq.url,
  gpuCluster: gpuOutputs.gpuCluster,
  gpuCapacityProviders: gpuOutputs.gpuCapacityProviders,
  jobTaskDefinition: gpuOutputs.jobTaskDefinition,
  jobLogGroup: gpuOutputs.jobLogGroup,
  jobTaskRole: gpuOutputs.jobTaskRole,
};
