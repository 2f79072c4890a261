import { createMiddleware } from "hono/factory";
import type { Logger } from "../../ports/logger.ts";
import type { AppEnv } from "../env.ts";

/** One structured line per request: method, path, status, duration, request id, workspace. */
export const requestLog = (logger: Logger) =>
  createMiddleware<AppEnv>(async (c, next) => {
    const started = performance.now();
    await next();
    logger.info("request", {
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      durationMs: Math.round((performance.now() - started) * 10) / 10,
      requestId: c.get("requestId"),
      workspace: c.get("principal")?.workspaceId,
    });
  });
