import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { Role } from "../../domain/roles.ts";
import type { AppDeps } from "../deps.ts";
import type { AppEnv } from "../env.ts";
import { requireUser } from "../middleware/auth.ts";
import { bearerSecurity, errorResponses, json } from "../openapi.ts";

const Metrics = z
  .object({
    storage: z.object({
      engine: z
        .string()
        .openapi({ description: "the storage engine, e.g. sqlite /data/berth.db", example: "sqlite" }),
      requests: z.record(z.string(), z.number()).openapi({
        description: "storage requests by operation (get, query, update, transact, ...), since start",
      }),
      total: z.number(),
    }),
    polls: z.object({ waiting: z.number().openapi({ description: "long polls waiting in this process" }) }),
    placement: z.object({
      conflicts: z.number().openapi({ description: "GPU claims lost to another job and retried elsewhere" }),
    }),
    process: z.object({ rssBytes: z.number(), heapUsedBytes: z.number(), uptimeSeconds: z.number() }),
  })
  .openapi("Metrics");

/** `GET /api/v1/metrics`: this process's counters, for operators and benchmarks (admin). */
export function metricsRoutes(deps: AppDeps) {
  return new OpenAPIHono<AppEnv>().openapi(
    createRoute({
      method: "get",
      path: "/metrics",
      tags: ["system"],
      security: bearerSecurity,
      middleware: requireUser(deps, Role.admin),
      summary: "Storage requests, waiting polls and memory of the process that answers",
      responses: { 200: json("counters of this process", Metrics), ...errorResponses(401, 403) },
    }),
    (c) => {
      const requests = deps.storageRequests();
      const memory = process.memoryUsage();
      return c.json(
        {
          storage: {
            engine: deps.storage.split(" ")[0]!,
            requests,
            total: Object.values(requests).reduce((a, b) => a + b, 0),
          },
          polls: { waiting: deps.feedWatcher.waiting() },
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
