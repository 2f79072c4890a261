import { ErrorCode, isBerthError } from "../../domain/errors.ts";
import { DEFAULT_NAMESPACE } from "../../domain/namespace.ts";
import { Role } from "../../domain/roles.ts";
import type { Clock } from "../../ports/clock.ts";
import type { Repositories } from "../../ports/repositories.ts";
import { findNamespace } from "../namespaces/namespaces.ts";
import { createApiKey } from "./api-keys.ts";
import { ensureDefaultNodeGroup } from "./node-groups.ts";

/**
 * First start of an embedded control plane: creates the workspace and an admin key, unless the
 * workspace exists, and makes sure it has its `default` node group and namespace (on every start). The key is
 * created before the workspace, which is the commit marker: a crash in
 * between leaves no workspace, so the next start bootstraps again (the orphaned key's secret was never
 * shown to anyone). `persistKey` runs before the marker, so a reported bootstrap always has a saved key.
 */
export async function bootstrapWorkspace(
  deps: { repos: Repositories; clock: Clock },
  workspaceId: string,
  persistKey: (token: string) => Promise<void>,
): Promise<{ created: false } | { created: true; token: string }> {
  await ensureDefaultNodeGroup(deps, workspaceId);
  await findNamespace(deps, workspaceId, DEFAULT_NAMESPACE); // made when missing
  if (await deps.repos.workspaces.get(workspaceId)) return { created: false };
  const { token } = await issueAdminKey(deps, workspaceId, "admin");
  await persistKey(token);
  try {
    await deps.repos.workspaces.create({ id: workspaceId, createdAt: deps.clock.now().toISOString() });
  } catch (err) {
    if (isBerthError(err) && err.code === ErrorCode.Conflict) return { created: false };
    throw err;
  }
  return { created: true, token };
}

/** A new admin key for a workspace, for the operator of the host (first start, or a lost key file). */
export async function issueAdminKey(
  deps: { repos: Repositories; clock: Clock },
  workspaceId: string,
  name: string,
) {
  return createApiKey(deps, workspaceId, { name, role: Role.admin });
}
