import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { LoginError, LoginRequest, LoginResponse } from "../../contracts/login.ts";
import { invalidRequest } from "../../domain/errors.ts";
import { login } from "../../usecases/identity/login.ts";
import { placePending } from "../../usecases/jobs/placement.ts";
import type { AppDeps } from "../deps.ts";
import type { AppEnv } from "../env.ts";
import { json } from "../openapi.ts";

export const LOGIN_PATH = "/login";

/**
 * `POST /api/v1/login`, GPUd-compatible. The body is parsed here rather than by a validator so that
 * every failure carries GPUd's exact message in GPUd's flat error shape (errorStyle "gpud", set by
 * createApp before any middleware can fail). Success is 200, not 201: GPUd checks for exactly 200.
 */
export function loginRoutes(deps: AppDeps) {
  const app = new OpenAPIHono<AppEnv>();
  app.openAPIRegistry.registerPath(
    createRoute({
      method: "post",
      path: LOGIN_PATH,
      tags: ["agents"],
      summary: "Register or re-register a machine with a registration token (GPUd-compatible)",
      request: { body: { required: true, content: { "application/json": { schema: LoginRequest } } } },
      responses: {
        200: json("the machine id, its session token and the control plane's public key", LoginResponse),
        400: json("invalid request (GPUd messages)", LoginError),
        401: json("invalid token", LoginError),
        403: json("machine or node group of another workspace", LoginError),
        404: json("machine or node group not found", LoginError),
        500: json("failed to login, please try again", LoginError),
      },
    }),
  );
  app.post(LOGIN_PATH, async (c) => {
    const text = await c.req.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (err) {
      throw invalidRequest(`cannot parse json, ${(err as Error).message}`);
    }
    const header = c.req.header("authorization");
    const bearer = header?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
    const res = await login(deps, body, bearer);
    // A machine (re)joined: jobs waiting for capacity may fit now.
    const device = await deps.repos.devices.get(res.machineID);
    if (device) await deps.background.run(() => placePending(deps, device.workspaceId));
    return c.json(res, 200);
  });
  return app;
}
