import { createMiddleware } from "hono/factory";
import { forbidden, unauthorized } from "../../domain/errors.ts";
import { type Role, roleAllows } from "../../domain/roles.ts";
import { authenticateApiKey, recordApiKeyUse } from "../../usecases/identity/authenticate.ts";
import type { AppDeps } from "../deps.ts";
import type { AppEnv } from "../env.ts";

/** The bearer credential of a request, or a 401 saying how to send one. */
export function bearer(header: string | undefined, what: string): string {
  if (!header) throw unauthorized(`missing ${what}: send the header "Authorization: Bearer <${what}>"`);
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw unauthorized(`malformed Authorization header: expected "Bearer <${what}>"`);
  return match[1]!;
}

/** Authenticates an API key and requires `role`; sets `principal`. 401 before 403, both before validation. */
export const requireUser = (deps: AppDeps, role: Role) =>
  createMiddleware<AppEnv>(async (c, next) => {
    const { principal, lastUsedAt } = await authenticateApiKey(
      deps,
      bearer(c.req.header("authorization"), "API key"),
    );
    c.set("principal", principal);
    c.set("user", principal);
    if (!roleAllows(principal.role, role)) {
      throw forbidden(
        `this operation needs an ${role} key; key ${principal.keyId} is a ${principal.role} key`,
      );
    }
    await deps.meter.within(principal.workspaceId, next);
    // Only a request that succeeded counts as use: a rejected request writes nothing.
    if (c.res.status < 400) await recordApiKeyUse(deps, principal.keyId, lastUsedAt);
  });
