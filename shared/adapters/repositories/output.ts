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
