import { agentApiEnvironment } from "./agents";
import { gpuCluster } from "./gpu";
import { COMMON_ENVIRONMENT } from "./hosting";
import { provisionQueue } from "./queues";
import { secretsKey, serverSecret } from "./secrets";
import { table } from "./storage";

/**
 * The HTTP API: the same Hono app as the local server, on Lambda behind a function URL.
 * arm64 and an explicit size, not SST's 1024 MB x86 default (see specs/cloud.md for the cost model).
 * `BERTH_AGENT_ENDPOINT` is where the agent routes are hosted (infra/agents.ts): agents learn it at login and
 * move there; with the service on HTTPS, follow requests are redirected there too (`BERTH_FOLLOW_MODE`).
 */
export const api = new sst.aws.Function("Api", {
  handler: "functions/api.handler",
  runtime: "nodejs22.x",
  architecture: "arm64",
  memory: "512 MB",
  timeout: "30 seconds",
  url: true,
  link: [table, provisionQueue, serverSecret, gpuCluster, secretsKey],
  environment: { ...COMMON_ENVIRONMENT, ...agentApiEnvironment },
  // Served at /downloads/berth-agent.mjs for install.sh (hosts/agent-bundle.ts finds it in the task root).
  // Built by `npm run build`, which `npm install` runs: build before `sst deploy`.
  // The dashboard's built files (dist/web) are served at /ui/ (hosts/dashboard-assets.ts finds them there too).
  copyFiles: [
    { from: "dist/berth-agent.mjs", to: "berth-agent.mjs" },
    { from: "dist/web", to: "web" },
  ],
  // The docs page's assets are read from swagger-ui-dist's files (hosts/docs-assets.ts), not bundled code.
  nodejs: { install: ["swagger-ui-dist"] },
});
