import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { createMiddleware } from "hono/factory";
import { Role } from "../../domain/roles.ts";
import { tokenMatches } from "../../domain/tokens.ts";
import type { AppDeps } from "../deps.ts";
import type { AppEnv } from "../env.ts";
import { bearer, requireUser } from "../middleware/auth.ts";
import { bearerSecurity, errorResponses, json } from "../openapi.ts";

const Requests = z.record(z.string(), z.number()).openapi({
  description: "storage requests by operation (get, query, update, transact, ...), since start",
});
const Polls = z.object({
  waiting: z.number().openapi({ description: "long polls waiting in this process" }),
});
const Corrupt = z.number().openapi({
  description:
    "stored items that lists skipped because they no longer match their schema (each one is logged with its key)",
});
const Placement = z.object({
  conflicts: z.number().openapi({ description: "GPU claims lost to another job and retried elsewhere" }),
});

const Agents = z
  .object({
    agentMinutes: z.number().openapi({
      description:
        "agents' time covered by their polls in this process (held, plus the told come-back delay)",
    }),
    storageRequests: z.number().openapi({
      description: "storage calls serving agent routes: authentication, presence, polls, feedback",
    }),
    changeCheckRequests: z.number().optional().openapi({
      description: "the process's shared change check (DynamoDB), for all its waiting polls (process view)",
    }),
    requestsPerAgentMinute: z
      .number()
      .nullable()
      .openapi({
        description:
          "storage requests per agent-minute, the change check included: for an idle fleet, what waiting costs " +
          "(null before any poll)",
      }),
  })
  .openapi("AgentMetrics");

const perMinute = (requests: number, ms: number) =>
  ms > 0 ? Math.round((requests / (ms / 60_000)) * 1000) / 1000 : null;

const WorkspaceMetrics = z
  .object({
    scope: z.literal("workspace"),
    workspaceId: z.string(),
    storage: z.object({
      requests: Requests.openapi({
        description: "storage calls made serving this workspace's requests in this process, by operation",
      }),
      total: z.number(),
      corruptItemsSkipped: Corrupt,
    }),
    polls: Polls,
    agents: Agents,
    placement: Placement,
  })
  .openapi("WorkspaceMetrics");

const ProcessMetrics = z
  .object({
    scope: z.literal("process"),
    storage: z.object({
      engine: z
        .string()
        .openapi({ description: "the storage engine, e.g. sqlite /data/berth.db", example: "sqlite" }),
      requests: Requests,
      total: z.number(),
      corruptItemsSkipped: Corrupt,
    }),
    polls: Polls,
    agents: Agents,
    placement: Placement,
    process: z.object({ rssBytes: z.number(), heapUsedBytes: z.number(), uptimeSeconds: z.number() }),
  })
  .openapi("ProcessMetrics");

const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);

/**
 * With the operator token (`BERTH_OPERATOR_TOKEN`): the process-wide view. Otherwise a key of a workspace
 * allowed `role` (admin, or a metrics key for `GET /metrics`), which sees that workspace's counters only.
 */
export const operatorOr = (deps: AppDeps, role: Role) =>
  createMiddleware<AppEnv>(async (c, next) => {
    const hash = deps.config.operatorTokenHash;
    const token = bearer(c.req.header("authorization"), "API key or operator token");
    if (hash && !token.startsWith("berth_") && tokenMatches(token, hash)) {
      c.set("operator", true);
      return next();
    }
    c.set("operator", false);
    return requireUser(deps, role)(c, next);
  });

/** `GET /api/v1/metrics`: a workspace's counters for its admins; this process's for the operator. */
export function metricsRoutes(deps: AppDeps) {
  return new OpenAPIHono<AppEnv>().openapi(
    createRoute({
      method: "get",
      path: "/metrics",
      tags: ["system"],
      security: bearerSecurity,
      middleware: operatorOr(deps, Role.admin),
      summary: "Storage requests, waiting polls and placement conflicts: a workspace's, or the process's",
      description:
        "An admin key sees its workspace's counters in the process that answers. The operator token " +
        "(BERTH_OPERATOR_TOKEN) sees the whole process: every workspace, the storage engine, memory.",
      responses: {
        200: json("counters", z.union([WorkspaceMetrics, ProcessMetrics])),
        ...errorResponses(401, 403),
      },
    }),
    (c) => {
      if (!c.get("operator")) {
        const workspaceId = c.get("user").workspaceId;
        const counters = deps.meter.workspace(workspaceId);
        const requests = Object.fromEntries(counters.storage);
        return c.json(
          {
            scope: "workspace" as const,
            workspaceId,
            storage: { requests, total: sum(requests), corruptItemsSkipped: counters.corruptItems },
            polls: { waiting: counters.pollsWaiting },
            agents: {
              agentMinutes: Math.round(counters.agentMs / 600) / 100,
              storageRequests: counters.agentStorage,
              requestsPerAgentMinute: perMinute(counters.agentStorage, counters.agentMs),
            },
            placement: { conflicts: counters.placementConflicts },
          },
          200,
        );
      }
      const requests = deps.storageRequests();
      const totals = deps.meter.totals;
      const memory = process.memoryUsage();
      return c.json(
        {
          scope: "process" as const,
          storage: {
            engine: deps.storage.split(" ")[0]!,
            requests,
            total: sum(requests),
            corruptItemsSkipped: deps.stats.corruptItems,
          },
          polls: { waiting: deps.feedWatcher.waiting() },
          agents: {
            agentMinutes: Math.round(totals.agentMs / 600) / 100,
            storageRequests: totals.agentStorage,
            changeCheckRequests: totals.changeCheckStorage,
            requestsPerAgentMinute: perMinute(
              totals.agentStorage + totals.changeCheckStorage,
              totals.agentMs,
            ),
          },
          placement: { conflicts: deps.stats.placementConflicts },
          process: {
            rssBytes: memory.rss,
            heapUsedBytes: memory.heapUsed,
            uptimeSeconds: Math.round(process.uptime()),
          },
        },
        200,
      );
    },
  );
}
