import { Role } from "../../domain/roles.ts";
import type { AppDeps } from "../deps.ts";
import { requireUser } from "../middleware/auth.ts";
import { bearerSecurity } from "../openapi.ts";

/**
 * What a resource's routes share: their OpenAPI tag and security, and their two access levels. `read`: any
 * key of the workspace; `write`: admin keys only (403 for a member key, before anything is read).
 */
export function access(deps: AppDeps, tag: string) {
  const read = { tags: [tag], security: bearerSecurity, middleware: requireUser(deps, Role.member) };
  return { read, write: { ...read, middleware: requireUser(deps, Role.admin) } };
}

/** The workspace of the key that made the request: every object a route touches is scoped to it. */
export const workspaceOf = (c: { get(k: "user"): { workspaceId: string } }) => c.get("user").workspaceId;
