import { DEFAULT_NAMESPACE, type Namespace } from "../../domain/namespace.ts";
import type { Logger } from "../../ports/logger.ts";
import { removeSecret, type SecretDeps } from "../secrets/secrets.ts";

type SweepDeps = SecretDeps & { logger: Logger };

/** Secrets deleted per page of a namespace's sweep. */
const PAGE = 100;

/**
 * Empties a namespace being deleted and deletes it: its secrets (each uncounted from the namespace and the
 * quota), then the namespace item, which goes only once nothing is counted in it. Nothing new joins a
 * namespace that is deleting, so every sweep gets closer; overlapping sweeps delete each secret once.
 */
export async function sweepNamespace(
  deps: SweepDeps,
  ns: Namespace,
  /** Secrets to delete at most, this time (a request's share; the sweeper deletes the rest). */
  budget = Number.POSITIVE_INFINITY,
): Promise<boolean> {
  let removed = 0;
  for (;;) {
    if (removed >= budget) return false;
    const page = await deps.repos.secrets.list(ns.workspaceId, ns.name, {
      limit: Math.min(PAGE, budget - removed),
    });
    for (const secret of page.items)
      if (await removeSecret(deps, ns.workspaceId, ns.name, secret.name)) removed++;
    if (!page.cursor) break;
  }
  const gone = (
    await deps.repos.commit([
      deps.repos.namespaces.deleteEmpty(ns.workspaceId, ns.name),
      ns.name === DEFAULT_NAMESPACE ? undefined : deps.repos.quotas.giveCount(ns.workspaceId, "namespaces"),
    ])
  ).ok;
  if (gone)
    deps.logger.info("namespace deleted", {
      workspaceId: ns.workspaceId,
      namespace: ns.name,
      secrets: removed,
    });
  return gone;
}

/** The sweeper's part: finishes the deletion of every namespace left `deleting` (a crash, a Lambda cut short). */
export async function sweepNamespaces(deps: SweepDeps, batch = 50): Promise<number> {
  let finished = 0;
  for (const ns of await deps.repos.namespaces.deleting(batch)) {
    try {
      if (await sweepNamespace(deps, ns)) finished++;
    } catch (err) {
      deps.logger.error("deleting a namespace failed; the next sweep goes on", {
        workspaceId: ns.workspaceId,
        namespace: ns.name,
        error: (err as Error).message,
      });
    }
  }
  return finished;
}
