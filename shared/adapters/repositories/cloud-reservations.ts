import { CloudReservation, type CloudState, isFinalCloud } from "../../domain/cloud-reservation.ts";
import type { CloudReservationRepository } from "../../ports/repositories.ts";
import type { Store } from "../../ports/store.ts";
import { createWrite, itemOf, parseItem, saveVersioned, versionedWrite } from "./base.ts";
import { ALL_SHARDS, keys, shardOf } from "./keys.ts";

const parse = (item: Record<string, unknown>) => parseItem(CloudReservation, "cloud reservation", item);

/**
 * A reservation's place in the cloud index while it is not final: by state, then by when it last
 * changed, so one query finds the ones that have been quiet in a state for too long.
 */
function cloudIndex(r: CloudReservation): { gsi2pk: string | null; gsi2sk: string | null } {
  if (isFinalCloud(r.state)) return { gsi2pk: null, gsi2sk: null };
  return { gsi2pk: keys.cloudQueue(shardOf(r.id)), gsi2sk: `${r.state}#${r.updatedAt}#${r.id}` };
}

export function cloudReservationRepository(store: Store): CloudReservationRepository {
  const update = (
    current: CloudReservation,
    change: Parameters<CloudReservationRepository["update"]>[1],
    at: string,
  ) =>
    versionedWrite<CloudReservation, CloudState>({
      what: `cloud reservation ${current.id}`,
      key: keys.cloudReservation(current.id),
      current,
      change,
      stateField: "state",
      timeField: "updatedAt",
      at,
      indexes: cloudIndex,
    });
  return {
    create(r) {
      const index = cloudIndex(r);
      // Id collision: never overwrite a reservation.
      return createWrite(
        `cloud reservation ${r.id}`,
        itemOf(keys.cloudReservation(r.id), r, index.gsi2pk ? index : {}),
      );
    },
    async get(id) {
      const item = await store.get(keys.cloudReservation(id));
      return item ? parse(item) : undefined;
    },
    update: (current, change, at) => update(current, change, at).write,
    save: (current, change, at) => saveVersioned(store, update(current, change, at), parse),
    async quiet(state, before, limit) {
      const found: CloudReservation[] = [];
      for (const shard of ALL_SHARDS) {
        if (found.length >= limit) break;
        const out = await store.query({
          index: "gsi2",
          partition: keys.cloudQueue(shard),
          range: { between: [`${state}#`, `${state}#${before}`] },
          limit: limit - found.length,
        });
        found.push(...out.items.map(parse));
      }
      return found;
    },
  };
}
