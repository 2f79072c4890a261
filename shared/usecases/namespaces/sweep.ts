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
  // The deletion read may be stale (an index lags): sweep only if it is still this one, and each secret only
  // while it is (a namespace made again under the name keeps its secrets).
  const current = await deps.repos.namespaces.get(ns.workspaceId, ns.name);
  if (current?.status !== "deleting" || current.id !== ns.id) return false;
  const guard = { deletingId: ns.id };
  let removed = 0;
  for (;;) {
    if (removed >= budget) return false;
    const page = await deps.repos.secrets.list(ns.workspaceId, ns.name, {
      limit: Math.min(PAGE, budget - removed),
    });
    for (const secret of page.items) {
      const out = await removeSecret(deps, ns.workspaceId, ns.name, secret.name, guard);
      if (out === "changed") return false;
      if (out === "removed") removed++;
    }
    if (!page.cursor) break;
  }
  const quota =
    ns.name === DEFAULT_NAMESPACE ? undefined : deps.repos.quotas.giveCount(ns.workspaceId, "namespaces");
  let committed = await deps.repos.commit([
    deps.repos.namespaces.deleteEmpty(ns.workspaceId, ns.name),
    quota,
  ]);
  // Its place in the quota was not counted (never below zero): delete it all the same.
  if (!committed.ok && committed.failed === 1)
    committed = await deps.repos.commit([deps.repos.namespaces.deleteEmpty(ns.workspaceId, ns.name)]);
  const gone = committed.ok;
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
