import { planOp } from "../../shared/adapters/store/plan.ts";
import { MAX_ITEM_BYTES, unstorableNumber, utf8Length } from "../../shared/domain/bounds.ts";
import type { Item, Store, WriteOp } from "../../shared/ports/store.ts";

/** What DynamoDB refuses that the SQL engines would store: the error it would answer with (a 500 in the app). */
export class DynamoLimitError extends Error {
  constructor(message: string) {
    super(`DynamoDB would refuse this write: ${message}`);
    this.name = "DynamoLimitError";
  }
}

const KEY_LIMITS = { pk: 2048, sk: 1024, gsi1pk: 2048, gsi1sk: 1024, gsi2pk: 2048, gsi2sk: 1024 } as const;
const MAX_DEPTH = 32;

/** DynamoDB's size of a value (attribute values: strings in UTF-8, numbers by digits, 3 bytes per container). */
function sizeOf(v: unknown): number {
  if (typeof v === "string") return utf8Length(v);
  if (typeof v === "number") return Math.ceil(String(Math.abs(v)).replace(/\.|e.*$/gi, "").length / 2) + 1;
  if (typeof v === "boolean" || v === null) return 1;
  if (Array.isArray(v)) return 3 + v.reduce((n: number, x) => n + 1 + sizeOf(x), 0);
  if (typeof v === "object")
    return 3 + Object.entries(v).reduce((n, [k, x]) => n + utf8Length(k) + 1 + sizeOf(x), 0);
  return 0;
}

function checkValue(v: unknown, path: string, depth: number) {
  if (typeof v === "number") {
    const why = unstorableNumber(v);
    if (why) throw new DynamoLimitError(`${path}: the number ${v} ${why}`);
  } else if (Array.isArray(v) || (typeof v === "object" && v !== null)) {
    if (depth > MAX_DEPTH) throw new DynamoLimitError(`${path} nests deeper than ${MAX_DEPTH} levels`);
    for (const [k, x] of Object.entries(v)) {
      if (!Array.isArray(v) && k === "") throw new DynamoLimitError(`${path} has an empty key`);
      checkValue(x, `${path}.${k}`, depth + 1);
    }
  }
}

/** Throws what DynamoDB would say about `item`: too large, a key too long or empty, too deep, a bad number. */
export function checkItem(item: Item) {
  for (const [name, max] of Object.entries(KEY_LIMITS)) {
    const v = item[name];
    if (v === undefined || v === null) continue;
    if (typeof v !== "string" || v === "") throw new DynamoLimitError(`key attribute ${name} is empty`);
    if (utf8Length(v) > max) throw new DynamoLimitError(`${name} is ${utf8Length(v)} bytes (at most ${max})`);
  }
  let size = 0;
  for (const [name, v] of Object.entries(item)) {
    if (v === undefined) continue;
    checkValue(v, name, 1);
    size += utf8Length(name) + sizeOf(v);
  }
  if (size > MAX_ITEM_BYTES)
    throw new DynamoLimitError(`item ${item.pk}/${item.sk} is ${size} bytes (at most ${MAX_ITEM_BYTES})`);
}

/**
 * A store that refuses, before writing, what DynamoDB would refuse, and otherwise is `inner`: so tests on
 * an in-memory SQLite see the 500 a DynamoDB deployment would answer. Every refusal is also kept in
 * `refused`, what the app read in `reads` (the limits' own reads are not recorded), and how many writes
 * took effect in `committed`.
 */
export function withDynamoLimits(
  inner: Store,
): Store & { refused: string[]; reads: string[]; readonly committed: number } {
  const refused: string[] = [];
  /** The keys and partitions read, in order (`pk/sk`, or a query's partition). */
  const reads: string[] = [];
  /** Writes that took effect (a failed condition, or deleting nothing, is not one). */
  let committed = 0;
  const check = async (ops: WriteOp[]) => {
    for (const op of ops) {
      if ("delete" in op || "check" in op) continue;
      const key = "put" in op ? { pk: op.put.pk, sk: op.put.sk } : op.update;
      const planned = planOp({ ...op, if: undefined } as WriteOp, await inner.get(key));
      try {
        if (planned.ok && planned.next) checkItem(planned.next);
      } catch (err) {
        refused.push((err as Error).message);
        throw err;
      }
    }
  };
  return {
    get describe() {
      return inner.describe;
    },
    get requests() {
      return inner.requests;
    },
    refused,
    reads,
    get committed() {
      return committed;
    },
    get: (key) => {
      reads.push(`${key.pk}/${key.sk}`);
      return inner.get(key);
    },
    getMany: (keys) => {
      reads.push(...keys.map((k) => `${k.pk}/${k.sk}`));
      return inner.getMany(keys);
    },
    query: (input) => {
      reads.push(input.partition);
      return inner.query(input);
    },
    scan: (after, limit) => inner.scan(after, limit),
    async delete(key, opts) {
      const out = await inner.delete(key, opts);
      if (out.ok && out.old) committed++;
      return out;
    },
    collectGarbage: (now) => inner.collectGarbage(now),
    close: () => inner.close(),
    async put(item, opts) {
      await check([{ put: item }]);
      const out = await inner.put(item, opts);
      if (out.ok) committed++;
      return out;
    },
    async update(key, changes, opts) {
      await check([{ update: key, changes }]);
      const out = await inner.update(key, changes, opts);
      if (out.ok) committed++;
      return out;
    },
    async transact(ops) {
      await check(ops);
      const out = await inner.transact(ops);
      if (out.ok) committed += ops.filter((op) => !("check" in op)).length;
      return out;
    },
  };
}
