import { createMiddleware } from "hono/factory";
import type { Logger } from "../../ports/logger.ts";
import type { AppEnv } from "../env.ts";

/**
 * Routine machine traffic: an agent's polls, heartbeats, output batches and reports (every agent, all day), and
 * health checks. Logged at debug, unless they fail; everything else (a person's or a script's request) at info.
 */
const ROUTINE = /^\/(healthz$|api\/v1\/agent\/)/;

/** One structured line per request: method, path, status, duration, request id, workspace. */
export const requestLog = (logger: Logger) =>
  createMiddleware<AppEnv>(async (c, next) => {
    const started = performance.now();
    await next();
    const status = c.res.status;
    const level = status >= 500 ? "error" : ROUTINE.test(c.req.path) && status < 400 ? "debug" : "info";
    logger[level]("request", {
      method: c.req.method,
      path: c.req.path,
      status,
      durationMs: Math.round((performance.now() - started) * 10) / 10,
      requestId: c.get("requestId"),
      workspace: c.get("principal")?.workspaceId,
    });
  });
