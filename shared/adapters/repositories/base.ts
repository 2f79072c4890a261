import type { z } from "zod";
import { conflict } from "../../domain/errors.ts";
import { isTransition, type Transition } from "../../domain/state-machine.ts";
import type { Page, PageRequest } from "../../ports/pagination.ts";
import type { Committed, Saved, VersionedWrite, Write } from "../../ports/repositories/write.ts";
import {
  type Changes,
  type Cond,
  c,
  type Item,
  KEY_ATTRIBUTES,
  type QueryInput,
  type Store,
  type WriteOp,
} from "../../ports/store.ts";

/** Thrown when a stored item does not match its schema: a bug or a bad migration, never bad input. */
export class CorruptItemError extends Error {
  constructor(what: string, item: Record<string, unknown>, issues: string) {
    super(`stored ${what} ${String(item.pk)}/${String(item.sk)} does not match its schema: ${issues}`);
    this.name = "CorruptItemError";
  }
}

const INTERNAL = new Set<string>([...KEY_ATTRIBUTES, "ttl"]);

/** Who hears of items a list skipped for not parsing (the host logs and counts them), by store. */
const corruptListeners = new WeakMap<Store, (err: CorruptItemError) => void>();
export function onCorruptItem(store: Store, listener: (err: CorruptItemError) => void): void {
  corruptListeners.set(store, listener);
}

/**
 * `parse(item)`, or undefined (reported) when the item does not match its schema: in a list, one stored
 * item that no longer parses (a bug, a bad migration, a field an old version let through) must not take
 * the whole list down. A read of that one item still fails loudly.
 */
export function parseOrSkip<T>(store: Store, item: Item, parse: (item: Item) => T): T | undefined {
  try {
    return parse(item);
  } catch (err) {
    if (!(err instanceof CorruptItemError)) throw err;
    corruptListeners.get(store)?.(err);
    return undefined;
  }
}

/** Every item that parses, in order; the others are reported and skipped (see parseOrSkip). */
export const parseEach = <T>(store: Store, items: Item[], parse: (item: Item) => T): T[] =>
  items.flatMap((item) => {
    const parsed = parseOrSkip(store, item, parse);
    return parsed === undefined ? [] : [parsed];
  });

/** Parses an item read from the store (its key, index and ttl attributes are not part of the entity). */
export function parseItem<S extends z.ZodType>(
  schema: S,
  what: string,
  item: Record<string, unknown>,
): z.infer<S> {
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(item)) if (!INTERNAL.has(k)) fields[k] = v;
  const result = schema.safeParse(fields);
  if (!result.success) {
    throw new CorruptItemError(
      what,
      item,
      result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "),
    );
  }
  return result.data;
}

/** An entity as an item: its fields without `undefined` (stores keep no undefined values). */
export function itemOf(
  key: { pk: string; sk: string },
  fields: object,
  extra: Record<string, unknown> = {},
): Item {
  const item: Record<string, unknown> = { ...key };
  for (const [k, v] of Object.entries({ ...fields, ...extra }))
    if (v !== undefined && v !== null) item[k] = v;
  return item as Item;
}

/** SET/REMOVE changes for a patch: a field left out (or undefined) stays, `null` removes it. */
export function patchChanges(patch: object): Required<Pick<Changes, "set" | "remove">> {
  const set: Record<string, unknown> = {};
  const remove: string[] = [];
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) continue;
    if (v === null) remove.push(k);
    else set[k] = v;
  }
  return { set, remove };
}

/** A patch applied to an entity in memory (null removes), to know what the write leaves. */
export function patched<T extends object>(current: T, patch: object): T {
  const next: Record<string, unknown> = { ...(current as Record<string, unknown>) };
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) continue;
    if (v === null) delete next[k];
    else next[k] = v;
  }
  return next as T;
}

export const write = (what: string, ...ops: WriteOp[]): Write => ({ what, ops });

/** A put that never overwrites: fails when the key is taken. */
export const createWrite = (what: string, item: Item): Write => write(what, { put: item, if: c.absent() });

/** Runs a create alone; a taken key is a Conflict naming it. */
export async function createOnly(store: Store, what: string, item: Item): Promise<void> {
  const out = await store.put(item, { if: c.absent() });
  if (!out.ok) throw conflict(`${what} already exists`);
}

/**
 * Commits writes: one op alone as a plain conditional write (half the cost of a transaction on DynamoDB),
 * several as one transaction. A failed condition names the write it belongs to.
 */
export async function commitWrites(store: Store, writes: (Write | undefined | false)[]): Promise<Committed> {
  const chosen = writes.filter((w): w is Write => !!w);
  const ops = chosen.flatMap((w) => w.ops);
  if (ops.length === 0) return { ok: true };
  const owner = (opIndex: number) => {
    let i = opIndex;
    for (let w = 0; w < chosen.length; w++) {
      if (i < chosen[w]!.ops.length) return w;
      i -= chosen[w]!.ops.length;
    }
    return chosen.length - 1;
  };
  let failedOp: number | undefined;
  if (ops.length === 1 && !("check" in ops[0]!)) {
    const op = ops[0]!;
    const out =
      "put" in op
        ? await store.put(op.put, { if: op.if })
        : "update" in op
          ? await store.update(op.update, op.changes, { if: op.if })
          : await store.delete(op.delete, { if: op.if });
    if (!out.ok) failedOp = 0;
  } else {
    const out = await store.transact(ops);
    if (!out.ok) failedOp = out.failed;
  }
  if (failedOp === undefined) return { ok: true };
  const w = owner(failedOp);
  // Index in the `writes` given (with undefined entries), so callers can match it to what they passed.
  return { ok: false, failed: writes.indexOf(chosen[w]!), what: chosen[w]!.what };
}

/**
 * A versioned write of an entity with a state machine: a Transition moves `stateField` (conditional on it
 * being `from`), any change bumps `version` (conditional on it), and `extra` adds index attributes from the
 * entity as it will be. Returns the write and the entity after it.
 */
export function versionedWrite<E extends { version: number }, S extends string>(opts: {
  what: string;
  key: { pk: string; sk: string };
  current: E;
  change: object | Transition<S, object>;
  stateField: keyof E & string;
  timeField: keyof E & string;
  at: string;
  /** Index attributes for the entity after the change (null removes one). */
  indexes?: (next: E) => Record<string, string | number | null>;
}): { write: VersionedWrite<E>; next: E } {
  const { current, change } = opts;
  const moving = isTransition(change);
  const patch = moving ? (change.patch as object) : change;
  if (!moving && opts.stateField in patch)
    throw new Error(`${opts.what}: ${opts.stateField} is written only by a transition`);
  const base = patched(current, patch);
  const next = {
    ...base,
    ...(moving ? { [opts.stateField]: change.to } : {}),
    version: current.version + 1,
    [opts.timeField]: opts.at,
  } as E;
  const changes = patchChanges({
    ...patch,
    ...(moving ? { [opts.stateField]: change.to } : {}),
    version: next.version,
    [opts.timeField]: opts.at,
    ...(opts.indexes?.(next) ?? {}),
  });
  const cond: Cond = c.and(
    c.eq("version", current.version),
    moving ? c.eq(opts.stateField, change.from) : undefined,
  );
  return { write: { ...write(opts.what, { update: opts.key, changes, if: cond }), next }, next };
}

/** Commits one versioned write alone, parsing what the store says the entity is now when it lost. */
export async function saveVersioned<E>(
  store: Store,
  w: { write: Write; next: E },
  parse: (item: Item) => E,
): Promise<Saved<E>> {
  const op = w.write.ops[0] as Extract<WriteOp, { update: unknown }>;
  const out = await store.update(op.update, op.changes, { if: op.if });
  if (out.ok) return { ok: true, value: parse(out.item) };
  return { ok: false, current: out.current ? parse(out.current) : undefined };
}

/**
 * One page of a query, with an optional in-memory filter. Pages by the store's own cursor (the last item's
 * key), so filtered pages resume exactly where they stopped; the last page carries no cursor.
 */
export async function queryPage<T>(
  store: Store,
  input: Omit<QueryInput, "limit" | "after">,
  map: (item: Item) => T | undefined,
  page: PageRequest,
  /** Runs on each batch of raw items before `map` (to fetch what `map` needs, in one request). */
  prepare?: (items: Item[]) => Promise<void>,
): Promise<Page<T>> {
  const items: T[] = [];
  let after = page.cursor;
  let lastKept: Record<string, unknown> | undefined;
  for (;;) {
    // After a filtered-out stretch, read ahead in larger steps rather than one item at a time.
    const want = Math.max(page.limit - items.length, after === page.cursor ? 1 : 25);
    const out = await store.query({ ...input, limit: want, after });
    await prepare?.(out.items);
    for (const raw of out.items) {
      const entity = parseOrSkip(store, raw, map);
      if (entity === undefined) continue;
      if (items.length === page.limit) return { items, cursor: lastKept };
      items.push(entity);
      lastKept = keyOf(raw);
    }
    if (!out.last) return { items };
    if (items.length === page.limit) {
      // Full, and the store has more: is there another kept item? Look ahead once.
      const more = await hasMore(store, input, out.last, map, prepare);
      return more ? { items, cursor: lastKept } : { items };
    }
    after = out.last;
  }
}

async function hasMore<T>(
  store: Store,
  input: Omit<QueryInput, "limit" | "after">,
  after: Record<string, unknown>,
  map: (item: Item) => T | undefined,
  prepare?: (items: Item[]) => Promise<void>,
): Promise<boolean> {
  let cursor: Record<string, unknown> | undefined = after;
  while (cursor) {
    const out = await store.query({ ...input, limit: 25, after: cursor });
    await prepare?.(out.items);
    if (out.items.some((i) => map(i) !== undefined)) return true;
    cursor = out.last;
  }
  return false;
}

/** Every item of a query (small partitions: a device's reservations, a job's events). */
export async function queryAll(store: Store, input: Omit<QueryInput, "limit" | "after">): Promise<Item[]> {
  const items: Item[] = [];
  let after: Record<string, unknown> | undefined;
  do {
    const out = await store.query({ ...input, limit: 1000, after });
    items.push(...out.items);
    after = out.last;
  } while (after);
  return items;
}

function keyOf(item: Item): Record<string, unknown> {
  const key: Record<string, unknown> = {};
  for (const name of KEY_ATTRIBUTES) if (item[name] !== undefined) key[name] = item[name];
  return key;
}
