import { z } from "zod";
import { isLive, Reservation, type ReservationState } from "../../domain/reservation.ts";
import type { ReservationRepository } from "../../ports/repositories.ts";
import type { Store } from "../../ports/store.ts";
import {
  createWrite,
  itemOf,
  parseEach,
  parseItem,
  queryAll,
  queryPage,
  saveVersioned,
  versionedWrite,
  write,
} from "./base.ts";
import { ALL_SHARDS, keys, shardOf, ttlOf } from "./keys.ts";

const parse = (item: Record<string, unknown>) => parseItem(Reservation, "reservation", item);
const Pointer = z.object({ deviceId: z.string(), workspaceId: z.string() });

/** A live reservation's place in the expiry index, by expiry time. */
const expiryIndex = (r: Pick<Reservation, "id" | "nodeId" | "expiresAt">) => ({
  gsi2pk: keys.expiryShard(shardOf(r.id)),
  gsi2sk: `${r.expiresAt}#${r.nodeId}#${r.id}`,
});

export function reservationRepository(store: Store): ReservationRepository {
  const get = async (deviceId: string, id: string) => {
    const item = await store.get(keys.reservation(deviceId, id));
    return item ? parse(item) : undefined;
  };
  const update = (current: Reservation, change: Parameters<ReservationRepository["update"]>[1], at: string) =>
    versionedWrite<Reservation, ReservationState>({
      what: `reservation ${current.id}`,
      key: keys.reservation(current.nodeId, current.id),
      current,
      change,
      stateField: "state",
      timeField: "updatedAt",
      at,
      // Out of the expiry index once it is no longer live; garbage-collected a month after deletion.
      indexes: (next) => ({
        ...(isLive(current.state) && !isLive(next.state) ? { gsi2pk: null, gsi2sk: null } : {}),
        ...(next.state === "deleted" && current.state !== "deleted" ? { ttl: ttlOf(at, 30) } : {}),
      }),
    });
  return {
    get,
    create: (r) =>
      write(
        `create reservation ${r.id}`,
        // Id collision: never overwrite a reservation. The pointer is immutable, written alongside.
        ...createWrite(
          `reservation ${r.id}`,
          itemOf(keys.reservation(r.nodeId, r.id), r, {
            gsi1pk: keys.reservationsOf(r.workspaceId),
            gsi1sk: r.id,
            ...(isLive(r.state) ? expiryIndex(r) : {}),
          }),
        ).ops,
        ...createWrite(
          `reservation pointer ${r.id}`,
          itemOf(
            keys.reservationPointer(r.id),
            { deviceId: r.nodeId, workspaceId: r.workspaceId },
            { ttl: ttlOf(r.expiresAt, 30) },
          ),
        ).ops,
      ),
    async getById(id) {
      const pointer = await store.get(keys.reservationPointer(id));
      return pointer ? get(parseItem(Pointer, "reservation pointer", pointer).deviceId, id) : undefined;
    },
    async getMany(deviceId, ids) {
      if (ids.length === 0) return [];
      const found = (await store.getMany(ids.map((id) => keys.reservation(deviceId, id)))).map(parse);
      return found.sort((a, b) => a.seq - b.seq);
    },
    async listForDevice(deviceId, opts = {}) {
      const all = await queryAll(store, {
        partition: keys.reservation(deviceId, "").pk,
        range: { prefix: keys.reservationsPrefix },
      });
      return parseEach(store, all, parse)
        .filter((r) => opts.withDeleted || r.state !== "deleted")
        .sort((a, b) => a.seq - b.seq);
    },
    list(workspaceId, page, keep) {
      return queryPage(
        store,
        { index: "gsi1", partition: keys.reservationsOf(workspaceId) },
        (item) => {
          const r = parse(item);
          return !keep || keep(r) ? r : undefined;
        },
        page,
      );
    },
    update: (current, change, at) => update(current, change, at).write,
    save: (current, change, at) => saveVersioned(store, update(current, change, at), parse),
    async expiring(now, limit) {
      const due: Reservation[] = [];
      for (const shard of ALL_SHARDS) {
        const out = await store.query({
          index: "gsi2",
          partition: keys.expiryShard(shard),
          range: { le: `${now}~` },
          limit: limit - due.length,
        });
        due.push(...out.items.map(parse));
        if (due.length >= limit) break;
      }
      return due;
    },
  };
}
