import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { z } from "zod";
import type { Item, Store } from "../shared/ports/store.ts";

/**
 * Backup and restore of a whole database as JSON lines: a header line, then one item per line, in the
 * item model every engine shares, so an export from one engine imports into any other (SQLite to
 * PostgreSQL, DynamoDB to SQLite).
 */
export const BACKUP_FORMAT = "berth-export";
export const BACKUP_VERSION = 1;

const Header = z.object({
  format: z.literal(BACKUP_FORMAT),
  version: z.literal(BACKUP_VERSION),
  exportedAt: z.string(),
});
const AnItem = z.looseObject({ pk: z.string().min(1), sk: z.string().min(1) });

/** Every item of `store`, one page at a time. */
export async function* itemsOf(store: Store): AsyncGenerator<Item> {
  let after: Record<string, unknown> | undefined;
  do {
    const page = await store.scan(after, 500);
    yield* page.items;
    after = page.last;
  } while (after);
}

/** Writes the header and the items as JSON lines through `write`; returns how many items. */
export async function writeBackup(
  items: AsyncIterable<Item>,
  write: (line: string) => Promise<void>,
): Promise<number> {
  await write(
    JSON.stringify({ format: BACKUP_FORMAT, version: BACKUP_VERSION, exportedAt: new Date().toISOString() }),
  );
  let n = 0;
  for await (const item of items) {
    await write(JSON.stringify(item));
    n++;
  }
  return n;
}

/** A backup that cannot be read: names the line and what is wrong. */
export class BackupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BackupError";
  }
}

/** Reads a backup file, checking every line before anything is written. */
export async function readBackup(path: string): Promise<Item[]> {
  const lines = createInterface({
    input: createReadStream(path, "utf8"),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  const items: Item[] = [];
  let n = 0;
  for await (const line of lines) {
    n++;
    if (line.trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new BackupError(`${path} line ${n} is not JSON`);
    }
    if (n === 1) {
      if (!Header.safeParse(value).success)
        throw new BackupError(
          `${path} is not a Berth export (its first line must be {"format":"${BACKUP_FORMAT}","version":${BACKUP_VERSION},...})`,
        );
      continue;
    }
    const item = AnItem.safeParse(value);
    if (!item.success) throw new BackupError(`${path} line ${n} is not an item (it needs string pk and sk)`);
    items.push(item.data as Item);
  }
  if (n === 0) throw new BackupError(`${path} is empty`);
  return items;
}

/** Whether the store holds no items at all. */
export async function isEmpty(store: Store): Promise<boolean> {
  return (await store.scan(undefined, 1)).items.length === 0;
}

/** Writes items, 25 to a transaction (a failure leaves the earlier batches written: import into an empty database). */
export async function loadItems(store: Store, items: Item[]): Promise<void> {
  for (let i = 0; i < items.length; i += 25) {
    await store.transact(items.slice(i, i + 25).map((put) => ({ put })));
  }
}

/**
 * Items of a Berth 0.1 table (dynalite), turned into this version's item model: the feed head moved into the
 * feed's partition with one item per unacknowledged removal, and a device's presence and machine info are
 * items of their own.
 */
export function fromVersion1(item: Record<string, unknown>): Item[] {
  const pk = String(item.pk);
  const sk = String(item.sk);
  if (pk.startsWith("DEVICE#") && sk === "FEED") {
    const device = pk.slice("DEVICE#".length);
    const removals =
      item.removals instanceof Set ? [...item.removals] : Array.isArray(item.removals) ? item.removals : [];
    return [
      { pk: `FEED#${device}`, sk: "HEAD", seq: Number(item.seq ?? 0) },
      ...removals.map((id) => ({
        pk: `FEED#${device}`,
        sk: `RM#${String(id)}`,
        reservationId: String(id),
        seq: 0,
      })),
    ];
  }
  if (pk.startsWith("DEVICE#") && sk === "DEVICE") {
    const { machineInfo, lastSeenAt, ...device } = item;
    return [
      device as Item,
      ...(typeof lastSeenAt === "string" ? [{ pk, sk: "SEEN", lastSeenAt }] : []),
      ...(machineInfo ? [{ pk, sk: "MACHINEINFO", machineInfo }] : []),
    ];
  }
  return [item as Item];
}
