import { ClusterSummary, StoredClusterConfig } from "../../domain/cluster.ts";
import type { ClusterRepository } from "../../ports/repositories.ts";
import { c, type Store } from "../../ports/store.ts";
import { itemOf, parseItem } from "./base.ts";
import { keys } from "./keys.ts";

/** The cluster config (`WS#<ws>` / `CLUSTERCONFIG`) and the cluster-info summary (`CLUSTERINFO`). */
export function clusterRepository(store: Store): ClusterRepository {
  return {
    async config(ws) {
      const item = await store.get(keys.clusterConfig(ws));
      return item ? parseItem(StoredClusterConfig, "cluster config", item) : undefined;
    },
    async putConfig(ws, config, readRevision) {
      // Two admins writing at once: only the one that read the stored revision wins.
      const out = await store.put(itemOf(keys.clusterConfig(ws), config), {
        if: readRevision === undefined ? c.absent() : c.eq("revision", readRevision),
      });
      return out.ok;
    },
    async summary(ws) {
      const item = await store.get(keys.clusterInfo(ws));
      return item ? parseItem(ClusterSummary, "cluster info", item) : undefined;
    },
    async leaseRebuild(ws, at) {
      // Many requests finding a stale summary at once: one takes the lease, the others serve the old copy.
      const out = await store.update(
        keys.clusterInfo(ws),
        { set: { rebuildingUntil: at.until } },
        {
          if: c.and(
            c.or(c.absent("rebuildingUntil"), c.lt("rebuildingUntil", at.now)),
            c.or(c.absent("generatedAt"), c.lt("generatedAt", at.staleBefore)),
          ),
        },
      );
      return out.ok;
    },
    async putSummary(ws, info, generatedAt) {
      // A rebuilder whose lease ran out while it worked never overwrites a newer summary.
      const out = await store.put(itemOf(keys.clusterInfo(ws), { info, generatedAt }), {
        if: c.or(c.absent("generatedAt"), c.lt("generatedAt", generatedAt)),
      });
      return out.ok;
    },
  };
}
