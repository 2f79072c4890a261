import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { HeartbeatRequest, HeartbeatResponse } from "../../contracts/agent.ts";
import { heartbeat } from "../../usecases/device-session.ts";
import type { AppDeps } from "../deps.ts";
import type { AppEnv } from "../env.ts";
import { requireDevice } from "../middleware/device-auth.ts";
import { bearerSecurity, errorResponses, json, jsonBody } from "../openapi.ts";

/** `/api/v1/agent/*`: the node agent's routes, authenticated by its session token. */
export function agentRoutes(deps: AppDeps) {
  const common = { tags: ["agents"], security: bearerSecurity, middleware: requireDevice(deps) };
  return new OpenAPIHono<AppEnv>().openapi(
    createRoute({
      ...common,
      method: "post",
      path: "/agent/heartbeat",
      summary: "Report liveness (and machine info when it changed)",
      request: { body: jsonBody(HeartbeatRequest) },
      responses: { 200: json("acknowledged", HeartbeatResponse), ...errorResponses(400, 401) },
    }),
    async (c) => c.json(await heartbeat(deps, c.get("device"), c.req.valid("json")), 200),
  );
}
