import { keptChanging } from "../domain/errors.ts";
import type { Saved } from "../ports/repositories.ts";

/** One try of a read-decide-write: finished, or lost to another writer (with the entity as it is now, if known). */
export type Attempt<T, R> = { done: R } | { retry: T | undefined } | { reread: true };

export const done = <R>(value: R): { done: R } => ({ done: value });
export const reread = { reread: true } as const;

/** A lost versioned save as a retry with what the store said the entity is now. */
export const lost = <T>(saved: Extract<Saved<T>, { ok: false }>): { retry: T | undefined } => ({
  retry: saved.current,
});

/**
 * The one read-decide-write loop. `attempt` sees the entity as it is (undefined: it does not exist), decides,
 * writes conditionally, and says whether it is done. A lost race retries with the entity the failed condition
 * returned (every engine returns it), or reads it again when the write was a transaction. After `attempts`
 * lost races it gives up with 409 Conflict and Retry-After: the object is too contended right now.
 */
export async function mutate<T, R>(opts: {
  what: string;
  read: () => Promise<T | undefined>;
  /** The entity already read, to save the first read. */
  current?: T;
  attempt: (current: T | undefined) => Promise<Attempt<T, R>>;
  attempts?: number;
}): Promise<R> {
  let current: T | undefined = opts.current ?? (await opts.read());
  const attempts = opts.attempts ?? 10;
  for (let i = 0; i < attempts; i++) {
    const out = await opts.attempt(current);
    if ("done" in out) return out.done;
    current = "retry" in out ? out.retry : await opts.read();
  }
  throw keptChanging(opts.what);
}
