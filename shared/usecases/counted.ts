import { type Counted, checkCount } from "../domain/quota.ts";
import type { Write } from "../ports/repositories.ts";
import type { StoreDeps } from "./deps.ts";
import { done, mutate, reread } from "./mutate.ts";

/**
 * Stores a new object of a counted kind (secrets, namespaces, applications) with its place in the workspace's
 * quota, in one transaction: refused (429) over the limit read, committed only while that limit and use hold,
 * decided again when the quota moved. `failed(i)` hears which of `writes` did not hold: it throws the answer
 * (a name taken, a namespace being deleted), or returns to read and decide again.
 */
export async function createCounted(
  deps: StoreDeps,
  workspaceId: string,
  kind: Counted,
  writes: () => Promise<(Write | undefined | false)[]> | (Write | undefined | false)[],
  failed: (index: number) => Promise<void>,
): Promise<void> {
  await mutate({
    what: `the ${kind} quota of workspace ${workspaceId}`,
    read: () => deps.repos.quotas.get(workspaceId),
    async attempt(quota) {
      checkCount(quota!, kind);
      const own = await writes();
      const committed = await deps.repos.commit([
        ...own,
        deps.repos.quotas.takeCount(workspaceId, quota!, kind),
      ]);
      if (committed.ok) return done(undefined);
      if (committed.failed < own.length) await failed(committed.failed);
      return reread;
    },
  });
}
