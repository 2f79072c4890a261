import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppDeps } from "../deps.ts";
import type { AppEnv } from "../env.ts";
import { json } from "../openapi.ts";

const Health = z.object({ status: z.literal("ok"), version: z.string() }).openapi("Health");

/** `GET /healthz`: liveness, without credentials (GPUd calls it with its session token before a session). */
export function healthRoutes(deps: AppDeps) {
  return new OpenAPIHono<AppEnv>().openapi(
    createRoute({
      method: "get",
      path: "/healthz",
      tags: ["system"],
      summary: "Liveness check",
      responses: { 200: json("the control plane is serving", Health) },
    }),
    (c) => c.json({ status: "ok" as const, version: deps.config.version }, 200),
  );
}
