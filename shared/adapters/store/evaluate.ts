import type { Changes, Cond, Item, Key, Path, QueryInput, Scalar } from "../../ports/store.ts";
import { INDEX_KEYS } from "../../ports/store.ts";

/**
 * Conditions and changes evaluated in TypeScript, for the engines that hold the row while they decide
 * (SQLite, PostgreSQL). Semantics follow DynamoDB's, which the contract suite checks on all engines:
 * a comparison with a missing attribute is false, values compare only with their own type, `add` counts
 * a missing number as 0, and a map path cannot be set inside a map that does not exist.
 */

/** A change the engine refuses (DynamoDB's ValidationException): a bug in the caller, never a race. */
export class InvalidChangeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvalidChangeError";
  }
}

const parts = (path: Path) => path.split(".");
const KEY_FIELDS = new Set(["pk", "sk"]);

function read(item: Record<string, unknown> | undefined, path: Path): unknown {
  let value: unknown = item;
  for (const p of parts(path)) {
    if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
    value = (value as Record<string, unknown>)[p];
  }
  return value;
}

const comparable = (a: unknown, b: Scalar): a is Scalar =>
  a !== undefined && a !== null && typeof a === typeof b;

/** String order is byte order of UTF-8 (DynamoDB's), which for these strings is code-point order. */
function compare(a: Scalar, b: Scalar): number {
  if (typeof a === "string" && typeof b === "string") return a < b ? -1 : a > b ? 1 : 0;
  return (a as number) - (b as number);
}

export function holds(cond: Cond | undefined, item: Item | undefined): boolean {
  if (!cond) return true;
  switch (cond.op) {
    case "exists":
      return read(item, cond.path) !== undefined;
    case "absent":
      return read(item, cond.path) === undefined;
    case "eq": {
      const v = read(item, cond.path);
      return comparable(v, cond.value) && v === cond.value;
    }
    case "lt":
    case "le":
    case "gt":
    case "ge": {
      const v = read(item, cond.path);
      if (!comparable(v, cond.value) || typeof v === "boolean") return false;
      const d = compare(v, cond.value);
      return cond.op === "lt" ? d < 0 : cond.op === "le" ? d <= 0 : cond.op === "gt" ? d > 0 : d >= 0;
    }
    case "in": {
      const v = read(item, cond.path);
      return cond.values.some((x) => comparable(v, x) && v === x);
    }
    case "ltAttr": {
      const a = read(item, cond.path);
      const b = read(item, cond.other);
      return typeof a === "number" && typeof b === "number" && a < b;
    }
    case "and":
      return cond.all.every((x) => holds(x, item));
    case "or":
      return cond.all.some((x) => holds(x, item));
    case "not":
      return !holds(cond.cond, item);
  }
}

/**
 * Refuses what DynamoDB refuses, on every engine: an update that changes nothing, a key attribute changed,
 * or paths that repeat or nest (overlapping paths).
 */
export function checkChanges(changes: Changes) {
  const all = [
    ...Object.keys(changes.set ?? {}).filter((p) => changes.set![p] !== undefined),
    ...(changes.remove ?? []),
    ...Object.keys(changes.add ?? {}),
  ];
  if (all.length === 0) throw new InvalidChangeError("an update must change something");
  for (const p of all) {
    if (KEY_FIELDS.has(p)) throw new InvalidChangeError(`the key attribute ${p} cannot be changed`);
  }
  for (let i = 0; i < all.length; i++) {
    for (let j = i + 1; j < all.length; j++) {
      const [a, b] = [all[i]!, all[j]!];
      if (a === b || a.startsWith(`${b}.`) || b.startsWith(`${a}.`)) {
        throw new InvalidChangeError(`two changes of one item overlap: ${a} and ${b}`);
      }
    }
  }
}

/** The map that holds `path`'s last part, or undefined when a parent is missing. */
function parentOf(item: Record<string, unknown>, path: Path): [Record<string, unknown>, string] | undefined {
  const ps = parts(path);
  let map: Record<string, unknown> = item;
  for (const p of ps.slice(0, -1)) {
    const next = map[p];
    if (next === null || typeof next !== "object" || Array.isArray(next)) return undefined;
    map = next as Record<string, unknown>;
  }
  return [map, ps[ps.length - 1]!];
}

/** The item after `changes` (a copy; `current` undefined creates it from its key). */
export function applyChanges(current: Item | undefined, key: Key, changes: Changes): Item {
  checkChanges(changes);
  const item = structuredClone(current ?? { pk: key.pk, sk: key.sk }) as Item;
  for (const [path, value] of Object.entries(changes.set ?? {})) {
    if (value === undefined) continue;
    const at = parentOf(item, path);
    if (!at) throw new InvalidChangeError(`cannot set ${path}: its map does not exist`);
    at[0][at[1]] = structuredClone(value);
  }
  for (const path of changes.remove ?? []) {
    const at = parentOf(item, path);
    if (!at) throw new InvalidChangeError(`cannot remove ${path}: its map does not exist`);
    delete at[0][at[1]];
  }
  for (const [path, n] of Object.entries(changes.add ?? {})) {
    const at = parentOf(item, path);
    if (!at) throw new InvalidChangeError(`cannot add to ${path}: its map does not exist`);
    const v = at[0][at[1]];
    if (v !== undefined && typeof v !== "number") throw new InvalidChangeError(`${path} is not a number`);
    at[0][at[1]] = ((v as number | undefined) ?? 0) + n;
  }
  return item;
}

/** The partition and sort-key attribute names a query reads. */
export function queryKeys(input: Pick<QueryInput, "index">): { pk: string; sk: string } {
  return input.index ? INDEX_KEYS[input.index] : { pk: "pk", sk: "sk" };
}
