import { z } from "zod";
import type { DataKeyRepository } from "../../ports/repositories/data-keys.ts";
import { c, type Store } from "../../ports/store.ts";
import { itemOf, parseItem } from "./base.ts";
import { keys } from "./keys.ts";

const StoredDataKey = z.object({
  workspaceId: z.string(),
  keyId: z.string(),
  wrapped: z.string(),
  createdAt: z.string(),
});

/** Workspaces' wrapped data keys, in the workspace's partition (`WS#<ws>` / `DATAKEY#<keyId>`). */
export function dataKeyRepository(store: Store): DataKeyRepository {
  return {
    async get(workspaceId, keyId) {
      const item = await store.get(keys.dataKey(workspaceId, keyId));
      return item ? parseItem(StoredDataKey, "data key", item) : undefined;
    },
    // Two processes making a workspace's first key at once: one is stored, the other reads it back.
    async create(key) {
      const out = await store.put(itemOf(keys.dataKey(key.workspaceId, key.keyId), key), { if: c.absent() });
      return out.ok;
    },
  };
}
