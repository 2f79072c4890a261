import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { QuotaView, SetQuotaRequest } from "../../contracts/quotas.ts";
import { Role } from "../../domain/roles.ts";
import { getQuota, setQuota } from "../../usecases/jobs/quotas.ts";
import type { AppDeps } from "../deps.ts";
import type { AppEnv } from "../env.ts";
import { requireUser } from "../middleware/auth.ts";
import { bearerSecurity, errorResponses, json, jsonBody } from "../openapi.ts";

/** `/api/v1/quotas`: the workspace's limits and use. Anyone may read; setting needs an admin key. */
export function quotaRoutes(deps: AppDeps) {
  const common = { tags: ["quotas"], security: bearerSecurity };
  return new OpenAPIHono<AppEnv>()
    .openapi(
      createRoute({
        ...common,
        middleware: requireUser(deps, Role.member),
        method: "get",
        path: "/quotas",
        summary: "The workspace's quota: limits, and GPUs and running jobs in use",
        responses: { 200: json("limits and use", QuotaView), ...errorResponses(401) },
      }),
      async (c) => c.json(await getQuota(deps, c.get("user").workspaceId), 200),
    )
    .openapi(
      createRoute({
        ...common,
        middleware: requireUser(deps, Role.admin),
        method: "put",
        path: "/quotas",
        summary: "Set the workspace's limits (null removes one)",
        request: { body: jsonBody(SetQuotaRequest) },
        responses: { 200: json("limits and use", QuotaView), ...errorResponses(400, 401, 403) },
      }),
      async (c) => c.json(await setQuota(deps, c.get("user").workspaceId, c.req.valid("json")), 200),
    );
}
