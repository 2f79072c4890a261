import { gpuCluster, vpc } from "./gpu";
import {
  AGENT_FUNCTION_ENVIRONMENT,
  AGENT_HOSTING_SETTING,
  type AgentHosting,
  ALB_IDLE_TIMEOUT_SECONDS,
  agentHostingOf,
  COMMON_ENVIRONMENT,
  SERVICE_ENVIRONMENT,
  SERVICE_MAX_TASKS,
  SERVICE_PATHS,
  SERVICE_PORT,
} from "./hosting";
import { provisionQueue } from "./queues";
import { secretsKey, serverSecret } from "./secrets";
import { table } from "./storage";

/**
 * The agent routes (login, polls, feedback, output) and the follow streams, on a host of their own: the
 * routes that hold connections, sized for waiting rather than for the API's work. One setting picks the
 * hosting (infra/hosting.ts); every hosting is a function here, so all three type-check whichever is deployed.
 */

/** The API Lambda's follows where nothing streams for it: windows well under its 30 s timeout. */
const FOLLOW_IN_WINDOWS = { BERTH_FOLLOW_MODE: "window", BERTH_FOLLOW_WINDOW_SECONDS: "20" };

/** A hosting's URL, and what the API Lambda needs to know of it beyond `BERTH_AGENT_ENDPOINT`. */
interface AgentHost {
  url: $util.Output<string>;
  apiEnvironment: Record<string, string>;
}

/** `lambda` / `lambda-short`: a dedicated function on the API's composition root, 128 MB arm64. */
function agentFunction(hosting: "lambda" | "lambda-short"): AgentHost {
  const fn = new sst.aws.Function("Agents", {
    handler: "functions/agent.handler",
    runtime: "nodejs22.x",
    architecture: "arm64",
    // Waiting needs no memory; 128 MB bills a quarter of the API's 512 MB per held second.
    memory: "128 MB",
    timeout: "30 seconds",
    url: true,
    // The same links as the API: hosts/lambda.ts builds the same deps for both.
    link: [table, provisionQueue, serverSecret, gpuCluster, secretsKey],
    environment: { ...COMMON_ENVIRONMENT, ...AGENT_FUNCTION_ENVIRONMENT[hosting] },
  });
  // A buffering Lambda cannot hold a follow stream either: the API answers follows in windows (a bounded
  // long-poll that ends about a second after output, or after 20 s; the CLI asks for the next one at once).
  return { url: fn.url, apiEnvironment: FOLLOW_IN_WINDOWS };
}

/**
 * `service`: `berth server` in the Dockerfile's image on Fargate (arm64, 0.5 vCPU / 1 GB, 2 tasks or more),
 * behind an ALB, in the GPU cluster's VPC (public subnets, no NAT gateway). SST injects the linked resources
 * as `SST_RESOURCE_*` variables; hosts/service-settings.ts reads them, so the service signs and verifies
 * with the API's secret, on the API's table, and starts no queue of its own.
 */
function agentService(): AgentHost {
  const cluster = new sst.aws.Cluster("AgentCluster", { vpc });
  const forward = `${SERVICE_PORT}/http` as const;
  // Set BERTH_AGENT_DOMAIN (a Route 53 zone of this account; see SST's `domain` for others) for HTTPS: agents
  // send session tokens, which should not cross the internet in plain HTTP. Without it the ALB listens on 80.
  const domain = process.env.BERTH_AGENT_DOMAIN || undefined;
  const listen = domain ? ("443/https" as const) : ("80/http" as const);
  const service = new sst.aws.Service("AgentService", {
    cluster,
    architecture: "arm64",
    cpu: "0.5 vCPU",
    memory: "1 GB",
    image: { context: ".", dockerfile: "Dockerfile" },
    // As the API's: the table and secret, the provision queue (cloud jobs' hand-offs) and the GPU cluster
    // (reading cloud jobs' logs for the follows it serves). hosts/service-settings.ts reads them.
    link: [table, serverSecret, provisionQueue, gpuCluster, secretsKey],
    environment: {
      ...SERVICE_ENVIRONMENT,
      AWS_REGION: aws.getRegionOutput().region,
      // Its own address, known beforehand only with a domain: a relogin here keeps agents here.
      ...(domain ? { BERTH_AGENT_ENDPOINT: `https://${domain}` } : {}),
    },
    // Held polls cost memory, not CPU; CPU grows with logins and feedback, which is what more tasks relieve.
    scaling: { min: 2, max: SERVICE_MAX_TASKS, cpuUtilization: 50, memoryUtilization: false },
    loadBalancer: {
      domain,
      // Every rule has a path, so whatever else reaches the ALB gets the listener's default 403.
      rules: [
        ...(domain ? [{ listen: "80/http" as const, redirect: "443/https" as const }] : []),
        ...SERVICE_PATHS.map((path) => ({ listen, forward, conditions: { path } })),
      ],
      health: {
        [forward]: { path: "/healthz", interval: "10 seconds", healthyThreshold: 2, unhealthyThreshold: 3 },
      },
    },
    transform: {
      // No SST option for it: above the 55 s hold (AWS's default of 60 s would cut polls near their end).
      loadBalancer: { idleTimeout: ALB_IDLE_TIMEOUT_SECONDS },
      // Draining lets requests in flight finish: held polls end within 55 s (AWS's 300 s only slows deploys).
      target: { deregistrationDelay: 60 },
    },
  });
  // Follow streams go to the service (the API Lambda buffers), but only over HTTPS: the CLI sends its API key
  // along, and the API's HTTPS must not be downgraded to plain HTTP for it. Without a domain, windows.
  return { url: service.url, apiEnvironment: domain ? { BERTH_FOLLOW_MODE: "redirect" } : FOLLOW_IN_WINDOWS };
}

const HOSTINGS: Record<AgentHosting, () => AgentHost> = {
  lambda: () => agentFunction("lambda"),
  "lambda-short": () => agentFunction("lambda-short"),
  service: agentService,
};

/** The hosting this deploy uses: `BERTH_AGENT_HOSTING` (lambda, lambda-short or service; default lambda). */
export const agentHosting = agentHostingOf(process.env[AGENT_HOSTING_SETTING]);

const host = HOSTINGS[agentHosting]();

/** Where agents and followers go (no trailing slash): the agent function's URL, or the service's ALB. */
export const agentUrl = host.url.apply((url) => url.replace(/\/+$/, ""));

/** The API Lambda's settings for this hosting: `BERTH_AGENT_ENDPOINT`, and follows redirected where they can stream. */
export const agentApiEnvironment = { BERTH_AGENT_ENDPOINT: agentUrl, ...host.apiEnvironment };
