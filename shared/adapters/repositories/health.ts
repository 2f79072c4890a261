import { z } from "zod";
import { HealthEvent, HealthReport, HealthSettings } from "../../domain/gpu-health.ts";
import type { HealthRepository } from "../../ports/repositories/health.ts";
import { c, type Store } from "../../ports/store.ts";
import { itemOf, parseItem, queryPage } from "./base.ts";
import { keys, ttlOf } from "./keys.ts";

const Stored = z.object({
  deviceId: z.string(),
  collectedAt: z.iso.datetime(),
  receivedAt: z.iso.datetime(),
  report: HealthReport,
});

/** Events of a device are kept 30 days (specs/gpu-health.md §5). */
const EVENT_DAYS = 30;

/** GPU health items in the device's partition (docs/data-model.md). */
export function healthRepository(store: Store): HealthRepository {
  return {
    async get(deviceId) {
      const item = await store.get(keys.health(deviceId));
      if (!item) return undefined;
      const { report, receivedAt } = parseItem(Stored, "device health", item);
      return { deviceId, report, receivedAt };
    },
    async put(stored, summary) {
      const collectedAt = new Date(stored.report.collectedAt).toISOString();
      const out = await store.transact([
        {
          // Reports out of order: only a newer one replaces what is stored.
          put: itemOf(keys.health(stored.deviceId), { ...stored, collectedAt }),
          if: c.or(c.absent(), c.lt("collectedAt", collectedAt)),
        },
        // A report racing the device's delete must not bring a summary back to a missing device.
        { update: keys.device(stored.deviceId), changes: { set: { health: summary } }, if: c.exists() },
      ]);
      return out.ok;
    },
    async settings(workspaceId) {
      const item = await store.get(keys.healthSettings(workspaceId));
      return item ? parseItem(HealthSettings, "health settings", item) : undefined;
    },
    async putSettings(workspaceId, settings) {
      // Two admins setting it at once: the last write wins, and each wrote a whole, valid setting.
      await store.put(itemOf(keys.healthSettings(workspaceId), settings));
    },
    async addEvents(deviceId, events) {
      for (const e of events) {
        const time = new Date(e.time).toISOString();
        await store.put(
          itemOf(keys.healthEvent(deviceId, time, e.id), { ...e, time }, { ttl: ttlOf(time, EVENT_DAYS) }),
        );
      }
    },
    events(deviceId, filter, page) {
      return queryPage(
        store,
        {
          partition: keys.device(deviceId).pk,
          range: filter.since
            ? { between: [keys.healthEvent(deviceId, filter.since, "").sk, "HEVT$"] }
            : { prefix: "HEVT#" },
          order: "desc",
        },
        (item) => {
          const e = parseItem(HealthEvent, "health event", item);
          if (filter.component && e.component !== filter.component) return undefined;
          if (filter.type && e.type !== filter.type) return undefined;
          return e;
        },
        page,
      );
    },
  };
}
