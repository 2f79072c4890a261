import type { Item, Store } from "../../shared/ports/store.ts";

/** Every item in the store, for "nothing was written" assertions. */
export async function snapshot(store: Store): Promise<string> {
  const items: Item[] = [];
  let after: Record<string, unknown> | undefined;
  do {
    const page = await store.scan(after, 1000);
    items.push(...page.items);
    after = page.last;
  } while (after);
  return JSON.stringify(items.sort((a, b) => `${a.pk}\u0000${a.sk}`.localeCompare(`${b.pk}\u0000${b.sk}`)));
}

/** The storage requests a store has served since `reset()`, in all and by operation (get, query, ...). */
export function countRequests(store: Store): { total(): number; of(op: string): number; reset(): void } {
  let base = new Map(store.requests);
  const of = (op: string) => (store.requests.get(op) ?? 0) - (base.get(op) ?? 0);
  return {
    of,
    total: () => [...store.requests.keys()].reduce((n, k) => n + of(k), 0),
    reset: () => {
      base = new Map(store.requests);
    },
  };
}
