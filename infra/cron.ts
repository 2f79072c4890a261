import { agentUrl } from "./agents";
import { api } from "./api";
import { gpuCluster } from "./gpu";
import { COMMON_ENVIRONMENT } from "./hosting";
import { provisionQueue } from "./queues";
import { secretsKey, serverSecret } from "./secrets";
import { table } from "./storage";

/**
 * The expiry sweeper, every minute. Overlapping runs are safe (conditional transitions); agents also
 * run their own expiry clock, so a late sweep delays only the control plane's bookkeeping.
 */
export const sweeper = new sst.aws.CronV2("Sweeper", {
  schedule: "rate(1 minute)",
  function: {
    handler: "functions/sweeper.handler",
    runtime: "nodejs22.x",
    architecture: "arm64",
    memory: "256 MB",
    timeout: "55 seconds",
    // BERTH_AGENT_ENDPOINT: the sweeper asks the agent host's /healthz too before losing devices.
    environment: { ...COMMON_ENVIRONMENT, BERTH_AGENT_ENDPOINT: agentUrl },
    // The API: the sweeper asks its /healthz (and the agent host's), and loses no device while one does not answer.
    link: [table, serverSecret, provisionQueue, gpuCluster, api, secretsKey],
  },
});
