import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import {
  LabConfigView,
  LabQuotaView,
  LabUserParam,
  PutLabConfigRequest,
  SetLabQuotaRequest,
} from "../../contracts/labs.ts";
import { Role } from "../../domain/roles.ts";
import { getLabConfig, getLabQuota, putLabConfig, setLabQuota } from "../../usecases/labs/config.ts";
import type { AppDeps } from "../deps.ts";
import type { AppEnv } from "../env.ts";
import { requireUser } from "../middleware/auth.ts";
import { bearerSecurity, errorResponses, json, jsonBody } from "../openapi.ts";
import { workspaceOf } from "./access.ts";

/**
 * `/api/v1/labs/config` and `/api/v1/labs/quotas/{user}` (specs/labs.md §2): the workspace's lab config and
 * per-user quota overrides, admin only. (Spawning labs comes with the rest of the labs issue.)
 */
export function labRoutes(deps: AppDeps) {
  const admin = { tags: ["labs"], security: bearerSecurity, middleware: requireUser(deps, Role.admin) };
  const ws = workspaceOf;
  return new OpenAPIHono<AppEnv>()
    .openapi(
      createRoute({
        ...admin,
        method: "get",
        path: "/labs/config",
        summary: "The workspace's lab config (404 NotConfigured before an admin writes one)",
        responses: { 200: json("the lab config", LabConfigView), ...errorResponses(401, 403, 404) },
      }),
      async (c) => c.json(await getLabConfig(deps, ws(c)), 200),
    )
    .openapi(
      createRoute({
        ...admin,
        method: "put",
        path: "/labs/config",
        summary: "Set the lab config: sizes (resource profiles), images, quota and how labs run",
        request: { body: jsonBody(PutLabConfigRequest) },
        responses: { 200: json("the lab config", LabConfigView), ...errorResponses(400, 401, 403, 409) },
      }),
      async (c) => c.json(await putLabConfig(deps, ws(c), c.req.valid("json")), 200),
    )
    .openapi(
      createRoute({
        ...admin,
        method: "get",
        path: "/labs/quotas/{user}",
        summary: "A user's lab quota: the default, their override, and what applies",
        request: { params: LabUserParam },
        responses: { 200: json("the quota", LabQuotaView), ...errorResponses(401, 403, 404) },
      }),
      async (c) => c.json(await getLabQuota(deps, ws(c), c.req.valid("param").user), 200),
    )
    .openapi(
      createRoute({
        ...admin,
        method: "put",
        path: "/labs/quotas/{user}",
        summary: "Override a user's lab quota (null takes a field back to the default)",
        request: { params: LabUserParam, body: jsonBody(SetLabQuotaRequest) },
        responses: { 200: json("the quota", LabQuotaView), ...errorResponses(400, 401, 403, 404) },
      }),
      async (c) =>
        c.json(await setLabQuota(deps, ws(c), c.req.valid("param").user, c.req.valid("json")), 200),
    );
}
