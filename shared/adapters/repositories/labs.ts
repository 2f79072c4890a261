import { LabQuotaOverride, StoredLabConfig } from "../../domain/lab.ts";
import type { LabRepository } from "../../ports/repositories.ts";
import { c, type Store } from "../../ports/store.ts";
import { itemOf, parseItem } from "./base.ts";
import { keys } from "./keys.ts";

/** The lab config (`WS#<ws>` / `LABCONFIG`) and per-user quota overrides (`WS#<ws>` / `LABQUOTA#<user>`). */
export function labRepository(store: Store): LabRepository {
  return {
    async config(ws) {
      const item = await store.get(keys.labConfig(ws));
      return item ? parseItem(StoredLabConfig, "lab config", item) : undefined;
    },
    async putConfig(ws, config, readRevision) {
      const out = await store.put(itemOf(keys.labConfig(ws), config), {
        if: readRevision === undefined ? c.absent() : c.eq("revision", readRevision),
      });
      return out.ok;
    },
    async quota(ws, user) {
      const item = await store.get(keys.labQuota(ws, user));
      return item ? parseItem(LabQuotaOverride, "lab quota", item) : undefined;
    },
    async putQuota(ws, user, override) {
      if (Object.keys(override).length === 0) await store.delete(keys.labQuota(ws, user));
      else await store.put(itemOf(keys.labQuota(ws, user), override));
    },
  };
}
