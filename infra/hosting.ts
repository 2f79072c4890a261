/**
 * Where the agent routes run: the one infra setting that picks it, and the constants each hosting is
 * declared with. Plain values, no SST globals, so tests read the same numbers the deploy uses.
 *
 * - `lambda` (the default): a dedicated Lambda sized for waiting (128 MB, arm64) holds each poll 20 s.
 * - `lambda-short`: the same Lambda answers polls at once; agents come back after `waitHintSeconds` (15 s).
 * - `service`: an always-on Fargate service behind an ALB holds each poll 55 s (large fleets).
 *
 * All three serve the same `createApp`; the API Lambda learns the agent URL as `BERTH_AGENT_ENDPOINT`.
 */
export const AGENT_HOSTINGS = ["lambda", "lambda-short", "service"] as const;
export type AgentHosting = (typeof AGENT_HOSTINGS)[number];

/** The environment variable that picks the hosting at deploy time: `BERTH_AGENT_HOSTING=service npx sst deploy`. */
export const AGENT_HOSTING_SETTING = "BERTH_AGENT_HOSTING";

/** The hosting a deploy asks for; unset or empty is `lambda`, anything unknown fails the deploy. */
export function agentHostingOf(value: string | undefined): AgentHosting {
  if (!value) return "lambda";
  const hosting = AGENT_HOSTINGS.find((h) => h === value);
  if (!hosting) {
    throw new Error(`${AGENT_HOSTING_SETTING}="${value}": use one of ${AGENT_HOSTINGS.join(", ")}`);
  }
  return hosting;
}

/**
 * Settings every function and the service share. The online TTL is 300 s on AWS (90 s locally): presence is
 * written at most every third of it, and at 100 s that write is most of what an idle agent costs in DynamoDB.
 */
export const COMMON_ENVIRONMENT = { BERTH_LOG_LEVEL: "info", BERTH_DEVICE_TTL_SECONDS: "300" } as const;

/** The agent Lambda's environment per hosting (the poll wait stays well under the function's 30 s timeout). */
export const AGENT_FUNCTION_ENVIRONMENT = {
  lambda: { BERTH_POLL_WAIT_SECONDS: "20" },
  "lambda-short": { BERTH_POLL_WAIT_SECONDS: "20", BERTH_POLL_MODE: "short", BERTH_SHORT_POLL_SECONDS: "15" },
} as const satisfies Record<Exclude<AgentHosting, "service">, Record<string, string>>;

/** The port the service container listens on (the Dockerfile's EXPOSE and PORT; a test checks they agree). */
export const SERVICE_PORT = 8787;

/**
 * The ALB's idle timeout: above the 55 s hold, so a waiting poll is never cut (AWS's default is 60 s).
 * SST's Service has no option for it; infra sets it through `transform.loadBalancer`.
 */
export const ALB_IDLE_TIMEOUT_SECONDS = 120;

/**
 * The service container's environment, on top of the Dockerfile's. Node's keep-alive timeout must exceed the
 * ALB's idle timeout: otherwise Node closes a connection the ALB is about to reuse, and the ALB answers 502.
 */
export const SERVICE_ENVIRONMENT = {
  HOST: "0.0.0.0",
  PORT: String(SERVICE_PORT),
  BERTH_POLL_WAIT_SECONDS: "55",
  BERTH_KEEPALIVE_TIMEOUT_SECONDS: String(ALB_IDLE_TIMEOUT_SECONDS + 5),
  // One process holds thousands of polls: a faster shared check costs 4 queries per 250 ms, not per poll.
  BERTH_CHANGE_CHECK_MS: "250",
  // A session verified within the last minute is not read again (most polls of an agent); a device deleted
  // through the API Lambda is refused here within that minute (the service does not hear of it sooner).
  BERTH_DEVICE_AUTH_CACHE_SECONDS: "60",
  // A 1 GB task: V8 would otherwise let garbage grow the heap towards the machine's memory (bench/fleet:
  // 1.2 GiB RSS at 10,000 agents uncapped, 569 MiB capped at 512 MiB).
  NODE_OPTIONS: "--max-old-space-size=640",
  ...COMMON_ENVIRONMENT,
} as const;

/**
 * The paths the ALB forwards to the service: what agents call (login, `/agent/*`), the follow streams (job
 * output and events, which hold connections too) and `/healthz`. Anything else gets the listener's 403:
 * the rest of the API stays on the API Lambda.
 */
export const SERVICE_PATHS = [
  "/healthz",
  "/api/v1/login",
  "/api/v1/agent/*",
  "/api/v1/jobs/*/output",
  "/api/v1/jobs/*/events",
] as const;

/** The most service tasks autoscaling may run (at least 2 always run, one per availability zone). */
export const SERVICE_MAX_TASKS = 10;
