import { api } from "./api";
import { gpuCluster } from "./gpu";
import { COMMON_ENVIRONMENT } from "./hosting";
import { provisionQueue } from "./queues";
import { serverSecret } from "./secrets";
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
    environment: COMMON_ENVIRONMENT,
    // The API: the sweeper asks its /healthz, and loses no device while it does not answer.
    link: [table, serverSecret, provisionQueue, gpuCluster, api],
  },
});
