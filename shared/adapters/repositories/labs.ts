import { LabQuotaOverride, StoredLabConfig } from "../../domain/lab.ts";
import { LabItem } from "../../domain/lab-state.ts";
import type { LabRepository, PrepullState } from "../../ports/repositories.ts";
import { c, type Item, type Store } from "../../ports/store.ts";
import { itemOf, parseItem, queryPage, write } from "./base.ts";
import { keys } from "./keys.ts";

const parseLab = (item: Item) => parseItem(LabItem, "lab", item);

/**
 * The lab config (`WS#<ws>` / `LABCONFIG`, indexed under `LABCONFIGS` for the prepuller), per-user quota
 * overrides (`LABQUOTA#<user>`), the labs and file servers (`LAB#<kind>#<user>`) and the prepuller's state
 * (`LABPREPULL`), all in the workspace's partition.
 */
export function labRepository(store: Store): LabRepository {
  return {
    async config(ws) {
      const item = await store.get(keys.labConfig(ws));
      return item ? parseItem(StoredLabConfig, "lab config", item) : undefined;
    },
    async putConfig(ws, config, readRevision) {
      const out = await store.put(
        itemOf(keys.labConfig(ws), config, { gsi1pk: keys.labConfigs, gsi1sk: ws }),
        { if: readRevision === undefined ? c.absent() : c.eq("revision", readRevision) },
      );
      return out.ok;
    },
    async configured(limit) {
      const out = await store.query({ index: "gsi1", partition: keys.labConfigs, limit });
      return out.items.map((i) => String(i.gsi1sk));
    },
    async quota(ws, user) {
      const item = await store.get(keys.labQuota(ws, user));
      return item ? parseItem(LabQuotaOverride, "lab quota", item) : undefined;
    },
    async putQuota(ws, user, override) {
      if (Object.keys(override).length === 0) await store.delete(keys.labQuota(ws, user));
      else await store.put(itemOf(keys.labQuota(ws, user), override));
    },
    async get(ws, kind, user) {
      const item = await store.get(keys.lab(ws, kind, user));
      return item ? parseLab(item) : undefined;
    },
    put: (next, readV) =>
      write(`the ${next.kind} of ${next.user}`, {
        put: itemOf(keys.lab(next.workspaceId, next.kind, next.user), next),
        if: readV === undefined ? c.absent() : c.eq("v", readV),
      }),
    async remove(item) {
      const out = await store.delete(keys.lab(item.workspaceId, item.kind, item.user), {
        if: c.eq("v", item.v),
      });
      return out.ok;
    },
    list: (ws, kind, page) =>
      queryPage(
        store,
        { partition: keys.workspace(ws).pk, range: { prefix: keys.labsPrefix(kind) } },
        parseLab,
        page,
      ),
    async prepullState(ws) {
      const item = await store.get(keys.labPrepull(ws));
      if (!item) return undefined;
      return {
        lastRunAt: String(item.lastRunAt),
        inFlight: (item.inFlight ?? {}) as PrepullState["inFlight"],
        marked: (item.marked ?? {}) as PrepullState["marked"],
        v: Number(item.v),
      };
    },
    async putPrepullState(ws, state, readV) {
      const out = await store.put(itemOf(keys.labPrepull(ws), state), {
        if: readV === undefined ? c.absent() : c.eq("v", readV),
      });
      return out.ok;
    },
  };
}
