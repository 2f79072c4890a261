import type { WriteOp } from "../store.ts";

/**
 * A write a repository prepares without sending it: committed alone or with writes of other repositories
 * in one transaction (`Repositories.commit`), all or nothing. Use cases never look inside.
 */
export interface Write {
  /** What it does, for errors and logs ("count a registration of token 01h..."). */
  readonly what: string;
  readonly ops: readonly WriteOp[];
}

/** The outcome of a commit: done, or which write's condition did not hold (nothing was written). */
export type Committed = { ok: true } | { ok: false; failed: number; what: string };

/** A versioned write's outcome: the entity after it, or (another writer was first) as it is now. */
export type Saved<T> = { ok: true; value: T } | { ok: false; current: T | undefined };

/** A conditional write of a versioned entity, with the entity as it will be once committed. */
export interface VersionedWrite<T> extends Write {
  readonly next: T;
}
