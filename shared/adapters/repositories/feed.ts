import { z } from "zod";
import { FeedEntry, type FeedHead } from "../../domain/feed.ts";
import type { FeedRepository } from "../../ports/repositories.ts";
import { c, type Item, type Store } from "../../ports/store.ts";
import { itemOf, parseItem, queryAll, write } from "./base.ts";
import { ALL_SHARDS, keys, pad, shardOf, ttlOf } from "./keys.ts";

const Head = z.object({ seq: z.number().int() });
const Removal = z.object({ reservationId: z.string(), seq: z.number().int() });
const Change = z.object({ deviceId: z.string(), seq: z.number().int(), createdAt: z.string() });

const parseEntry = (item: Record<string, unknown>): FeedEntry => parseItem(FeedEntry, "feed entry", item);

/** Entries sort before the head ("HEAD") and the removals ("RM#..."): their keys are digits. */
const isEntry = (item: Item) => /^[0-9]/.test(item.sk);

/** Head and removals from the items of the feed partition at and after "HEAD". */
function headOf(items: Item[]): FeedHead {
  const head = items.find((i) => i.sk === "HEAD");
  return {
    seq: head ? parseItem(Head, "feed head", head).seq : 0,
    removals: items
      .filter((i) => i.sk.startsWith("RM#"))
      .map((i) => {
        const r = parseItem(Removal, "feed removal", i);
        return { id: r.reservationId, seq: r.seq };
      }),
  };
}

/**
 * A device's feed in its own partition `FEED#<device>`: entries keyed by their zero-padded number, then the
 * head (`HEAD`, the last number) and one item per unacknowledged removal (`RM#<reservation>`). A read from a
 * cursor therefore returns the new entries, the head and the removals in one query. Each append also writes
 * a small change record (`FEEDCHANGES#<shard>` / `<time>#<device>#<seq>`, in the table itself, not an index)
 * for the shared change check: a table query reads it with strong consistency, where an index may lag a
 * write by up to a second on DynamoDB.
 */
export function feedRepository(store: Store): FeedRepository {
  const partition = (deviceId: string) => keys.feedOf(deviceId);
  const head = async (deviceId: string) =>
    headOf(await queryAll(store, { partition: partition(deviceId), range: { ge: "HEAD" } }));
  return {
    head,
    async lastSeq(deviceId) {
      const item = await store.get(keys.feedHead(deviceId));
      return item ? parseItem(Head, "feed head", item).seq : 0;
    },
    async read(deviceId, from, limit) {
      // Room for the head and some removals in the same page; a longer page is read again past the entries.
      const out = await store.query({
        partition: partition(deviceId),
        range: { ge: pad(from) },
        limit: limit + 64,
      });
      const entries = out.items.filter(isEntry).slice(0, limit).map(parseEntry);
      if (!out.last) return { entries, head: headOf(out.items) };
      return { entries, head: await head(deviceId) };
    },
    async latest(deviceId, limit) {
      const out = await store.query({
        partition: partition(deviceId),
        range: { lt: "A" },
        order: "desc",
        limit,
      });
      return out.items.map(parseEntry).reverse();
    },
    append(current, entry) {
      if (entry.seq !== current.seq + 1)
        throw new Error(`feed entry ${entry.seq} does not follow head ${current.seq}`);
      const removal = entry.kind === "remove" ? entry.reservation.id : undefined;
      return write(
        `append entry ${entry.seq} to the feed of device ${entry.deviceId}`,
        // Concurrent writers to one feed: each takes the next number only if no one took it first, so
        // numbers are never skipped and never given twice.
        {
          update: keys.feedHead(entry.deviceId),
          changes: { set: { seq: entry.seq } },
          if: current.seq === 0 ? c.absent() : c.eq("seq", current.seq),
        },
        {
          put: itemOf(keys.feedEntry(entry.deviceId, entry.seq), entry, { ttl: ttlOf(entry.expiresAt, 1) }),
          // An entry is never overwritten, whatever the head says (a head that went back: a restore gone wrong).
          if: c.absent(),
        },
        {
          put: itemOf(
            keys.feedChange(shardOf(entry.deviceId), entry.createdAt, entry.deviceId, pad(entry.seq)),
            { deviceId: entry.deviceId, seq: entry.seq, createdAt: entry.createdAt },
            // Read only by change checks looking back seconds: kept a day, for garbage collection.
            { ttl: ttlOf(entry.createdAt, 1) },
          ),
        },
        ...(removal
          ? [
              {
                put: itemOf(keys.feedRemoval(entry.deviceId, removal), {
                  reservationId: removal,
                  seq: entry.seq,
                }),
              },
            ]
          : []),
      );
    },
    acknowledge: (deviceId, reservationId) =>
      write(`acknowledge the removal of ${reservationId}`, {
        delete: keys.feedRemoval(deviceId, reservationId),
      }),
    async changesSince(since) {
      // Table queries (strongly consistent, so a committed append is always found), the shards side by side:
      // the check's latency is one query's, not four.
      const shards = await Promise.all(
        ALL_SHARDS.map((shard) =>
          queryAll(store, { partition: keys.feedChangeShard(shard), range: { ge: since } }),
        ),
      );
      return shards.flat().map((item) => parseItem(Change, "feed change", item));
    },
  };
}
