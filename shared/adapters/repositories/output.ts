import { StoredOutputChunk } from "../../domain/output.ts";
import type { OutputRepository } from "../../ports/repositories.ts";
import { c, type Store } from "../../ports/store.ts";
import { itemOf, parseItem, queryPage } from "./base.ts";
import { keys, pad, ttlOf } from "./keys.ts";

const parse = (item: Record<string, unknown>) => parseItem(StoredOutputChunk, "output chunk", item);

export function outputRepository(store: Store): OutputRepository {
  return {
    async append(reservationId, chunk, receivedAt, keepUntil) {
      // An agent retrying a batch: a seq already stored is ignored, never overwritten.
      const out = await store.put(
        itemOf(keys.output(reservationId, chunk.seq), { ...chunk, receivedAt }, { ttl: ttlOf(keepUntil, 0) }),
        { if: c.absent() },
      );
      return out.ok;
    },
    async since(reservationId, afterSeq, limit) {
      const out = await store.query({
        partition: keys.outputOf(reservationId),
        range: { gt: pad(afterSeq) },
        limit,
      });
      return out.items.map(parse);
    },
    async countBytes(reservationId, bytes, at, keepUntil) {
      // A day's count goes a day after the last of that day's output it counts.
      await store.update(keys.outputBytes(reservationId, at.slice(0, 10)), {
        add: { bytes },
        set: { ttl: ttlOf(keepUntil, 1), keepUntil },
      });
      const days = await store.query({ partition: keys.outputBytesOf(reservationId), limit: 64 });
      return days.items
        .filter((d) => String(d.keepUntil) > at)
        .reduce((sum, d) => sum + Number(d.bytes ?? 0), 0);
    },
    async dropOldest(reservationId, bytes) {
      let freed = 0;
      const byDay = new Map<string, number>();
      let after: Record<string, unknown> | undefined;
      while (freed < bytes) {
        const page = await store.query({ partition: keys.outputOf(reservationId), limit: 32, after });
        for (const item of page.items) {
          const removed = await store.delete({ pk: item.pk, sk: item.sk }, { if: c.exists() });
          // Deleted here (not by a trim racing this one): counted as freed once, on its day.
          if (removed.ok && removed.old) {
            const n = Buffer.byteLength(String(removed.old.data ?? ""));
            const day = String(removed.old.receivedAt ?? "").slice(0, 10);
            freed += n;
            byDay.set(day, (byDay.get(day) ?? 0) + n);
          }
          if (freed >= bytes) break;
        }
        if (!page.last || page.items.length === 0) break;
        after = page.last;
      }
      // A day no longer counted (gone, or output from before days were counted) is left alone.
      for (const [day, n] of byDay)
        await store.update(keys.outputBytes(reservationId, day), { add: { bytes: -n } }, { if: c.exists() });
      return freed;
    },
    list: (reservationId, page, stream) =>
      queryPage(
        store,
        { partition: keys.outputOf(reservationId) },
        (item) => {
          const chunk = parse(item);
          return !stream || chunk.stream === stream ? chunk : undefined;
        },
        page,
      ),
  };
}
