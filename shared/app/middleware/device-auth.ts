import { createMiddleware } from "hono/factory";
import { authenticateDevice, deviceSeen } from "../../usecases/identity/device-session.ts";
import type { AppDeps } from "../deps.ts";
import type { AppEnv } from "../env.ts";
import { bearer } from "./auth.ts";

/**
 * Authenticates a node agent by its session token; sets `device`. The device comes from the token,
 * never from a path or body, so an agent can only reach its own feed. A successful call counts as
 * "seen" (at most one write per device per third of the online TTL). Everything it reads and writes,
 * authentication and presence included, is metered as agent work (`agents` in GET /api/v1/metrics).
 */
export const requireDevice = (deps: AppDeps) =>
  createMiddleware<AppEnv>((c, next) =>
    deps.meter.within(
      undefined,
      async () => {
        const token = bearer(c.req.header("authorization"), "session token");
        const device = await authenticateDevice(deps, token);
        c.set("principal", device);
        c.set("device", device);
        await deps.meter.within(device.workspaceId, async () => {
          await next();
          if (c.res.status < 400) await deviceSeen(deps, device.deviceId);
        });
      },
      "agent",
    ),
  );
