/**
 * The storage port: one narrow, typed interface under every repository, implemented by each engine
 * (SQLite, PostgreSQL, DynamoDB) and held to one contract suite (test/contract/store.contract.ts).
 *
 * The model is DynamoDB's single table: items addressed by (pk, sk), two optional secondary indexes
 * (gsi1pk/gsi1sk, gsi2pk/gsi2sk) queried by partition and sort-key range, and `ttl` for garbage collection.
 * An item is a JSON object; its key and index attributes are plain string fields of it.
 *
 * Conditions and changes are data (`Cond`, `Changes`), not expression strings: the DynamoDB engine compiles
 * them into condition and update expressions, the SQL engines evaluate them in TypeScript on the row they
 * hold (see adapters/store/evaluate.ts). Every write is atomic per item; `transact` is atomic across items.
 * A failed condition never writes, and tells the caller what the item is now (`current`), so a
 * read-decide-write loop need not read again.
 */

/** An item as stored: key attributes, index attributes and the entity's fields. */
export type Item = { pk: string; sk: string } & Record<string, unknown>;
export interface Key {
  pk: string;
  sk: string;
}

/**
 * An attribute path: a top-level field (`state`) or a field of a map (`gpuOwners.3`). Comparisons with a
 * missing attribute are false (so `not(eq(...))` is true for it); values compare only with their own type.
 */
export type Path = string;
export type Scalar = string | number | boolean;

export type Cond =
  | { op: "exists" | "absent"; path: Path }
  | { op: "eq" | "lt" | "le" | "gt" | "ge"; path: Path; value: Scalar }
  | { op: "in"; path: Path; values: Scalar[] }
  /** `path < other`, both numbers present on the item. */
  | { op: "ltAttr"; path: Path; other: Path }
  | { op: "and" | "or"; all: Cond[] }
  | { op: "not"; cond: Cond };

/** Condition builders: `c.and(c.exists(), c.eq("version", 3))`. */
export const c = {
  /** The item exists. */
  exists: (path: Path = "pk"): Cond => ({ op: "exists", path }),
  /** The item (or attribute) does not exist. */
  absent: (path: Path = "pk"): Cond => ({ op: "absent", path }),
  eq: (path: Path, value: Scalar): Cond => ({ op: "eq", path, value }),
  lt: (path: Path, value: Scalar): Cond => ({ op: "lt", path, value }),
  le: (path: Path, value: Scalar): Cond => ({ op: "le", path, value }),
  gt: (path: Path, value: Scalar): Cond => ({ op: "gt", path, value }),
  ge: (path: Path, value: Scalar): Cond => ({ op: "ge", path, value }),
  in: (path: Path, values: readonly Scalar[]): Cond => ({ op: "in", path, values: [...values] }),
  ltAttr: (path: Path, other: Path): Cond => ({ op: "ltAttr", path, other }),
  and: (...all: (Cond | undefined)[]): Cond => ({ op: "and", all: all.filter((x): x is Cond => !!x) }),
  or: (...all: Cond[]): Cond => ({ op: "or", all }),
  not: (cond: Cond): Cond => ({ op: "not", cond }),
} as const;

/**
 * What an update changes. `set` writes values (`undefined` is skipped; a map path needs its map to exist),
 * `remove` deletes attributes, `add` adds to numbers (a missing one counts as 0). One update must not
 * touch a path twice, nor a path and a path inside it.
 */
export interface Changes {
  set?: Record<Path, unknown>;
  remove?: Path[];
  add?: Record<Path, number>;
}

/** The outcome of a conditional write: the item after it, or, when the condition failed, as it is now. */
export type WriteResult = { ok: true; item: Item } | { ok: false; current: Item | undefined };
/** The outcome of a conditional delete: what the item was (undefined: there was none), or as it is now. */
export type DeleteResult = { ok: true; old: Item | undefined } | { ok: false; current: Item | undefined };

export type SortKeyRange =
  | { prefix: string }
  | { between: [string, string] }
  | { gt: string }
  | { ge: string }
  | { lt: string }
  | { le: string };

export interface QueryInput {
  /** Omitted: the table's own key (pk, sk). */
  index?: "gsi1" | "gsi2";
  /** The partition: `pk`, `gsi1pk` or `gsi2pk` equals this. */
  partition: string;
  range?: SortKeyRange;
  /** Sort-key order; "asc" by default. */
  order?: "asc" | "desc";
  /** At most this many items. */
  limit?: number;
  /** Resume after this item (the `last` of a previous page). */
  after?: Record<string, unknown>;
}

export interface QueryPage {
  items: Item[];
  /** Present when more items may follow: pass it as `after`. */
  last?: Record<string, unknown>;
}

/** One write of a transaction. */
export type WriteOp =
  | { put: Item; if?: Cond }
  | { update: Key; changes: Changes; if?: Cond }
  | { delete: Key; if?: Cond }
  | { check: Key; if: Cond };

export type TransactResult = { ok: true } | { ok: false; failed: number; current: Item | undefined };

/** The most writes one transaction may hold (DynamoDB's limit); no two may address the same item. */
export const MAX_TRANSACTION_OPS = 100;

export interface Store {
  /** Which engine this is, for people ("sqlite /path", "postgres host/db", "dynamodb table"). */
  readonly describe: string;
  /** Strongly consistent read of one item. */
  get(key: Key): Promise<Item | undefined>;
  /** Strongly consistent reads of several items (any number); missing ones are left out, order unspecified. */
  getMany(keys: Key[]): Promise<Item[]>;
  /** Writes the whole item if `if` holds (e.g. `c.absent()`: never overwrite). */
  put(item: Item, opts?: { if?: Cond }): Promise<WriteResult>;
  /** Applies changes if `if` holds, creating the item when absent (unless `if` requires it). */
  update(key: Key, changes: Changes, opts?: { if?: Cond }): Promise<WriteResult>;
  /** Deletes the item if `if` holds. */
  delete(key: Key, opts?: { if?: Cond }): Promise<DeleteResult>;
  /**
   * Items of one partition of the table or an index, in sort-key order (items of an index with equal sort
   * keys in no particular order). Index reads may lag writes on DynamoDB.
   */
  query(input: QueryInput): Promise<QueryPage>;
  /** All or nothing: every op's condition holds and all are written, or none is (`failed` says which). */
  transact(ops: WriteOp[]): Promise<TransactResult>;
  /** Every item, a page at a time (export, tests). */
  scan(after?: Record<string, unknown>, limit?: number): Promise<QueryPage>;
  /** Requests made so far, by operation (get, query, update, transact, ...). */
  readonly requests: Map<string, number>;
  /** Deletes items whose `ttl` (epoch seconds) has passed; engines with their own TTL do nothing. */
  collectGarbage(nowEpochSeconds: number): Promise<number>;
  close(): Promise<void>;
}

/**
 * Messages between the processes sharing one database (PostgreSQL LISTEN/NOTIFY): a writer publishes
 * "something changed on this topic", and every process (the writer's included) hears it.
 */
export interface Broadcast {
  publish(topic: string, message: string): Promise<void>;
  subscribe(handler: (topic: string, message: string) => void): () => void;
}

/** The engine could not be reached (PostgreSQL down, network). Answered 503 Unavailable; retry later. */
export class StorageUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StorageUnavailableError";
  }
}

/** The same item kept changing under a write (contention beyond retrying): answered 409 Conflict. */
export class StorageContentionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StorageContentionError";
  }
}

/** Key attributes of the table and its indexes. */
export const KEY_ATTRIBUTES = ["pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk"] as const;
export const INDEX_KEYS = {
  gsi1: { pk: "gsi1pk", sk: "gsi1sk" },
  gsi2: { pk: "gsi2pk", sk: "gsi2sk" },
} as const;
