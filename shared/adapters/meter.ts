import { AsyncLocalStorage } from "node:async_hooks";
import type { Meter, WorkspaceCounters } from "../ports/meter.ts";
import type { Store } from "../ports/store.ts";

/** A meter that follows the workspace through async calls (AsyncLocalStorage). */
export function createMeter(): Meter {
  const scope = new AsyncLocalStorage<string>();
  const counters = new Map<string, WorkspaceCounters>();
  return {
    within: (workspaceId, fn) => scope.run(workspaceId, fn),
    current: () => scope.getStore(),
    workspace(workspaceId) {
      let c = counters.get(workspaceId);
      if (!c) {
        c = { storage: new Map(), pollsWaiting: 0, placementConflicts: 0, corruptItems: 0 };
        counters.set(workspaceId, c);
      }
      return c;
    },
  };
}

const METERED = ["get", "getMany", "put", "update", "delete", "query", "transact", "scan"] as const;

/**
 * The store, counting each call against the workspace it is made for (calls outside any workspace, such
 * as the sweeper's or a login's before its token is known, count only in the engine's process-wide total).
 */
export function meteredStore(store: Store, meter: Meter): Store {
  const wrapped: Partial<Record<(typeof METERED)[number], unknown>> = {};
  for (const op of METERED) {
    wrapped[op] = (...args: unknown[]) => {
      const ws = meter.current();
      if (ws !== undefined) {
        const storage = meter.workspace(ws).storage;
        storage.set(op, (storage.get(op) ?? 0) + 1);
      }
      // Looked up at each call: the store's own method, whatever it is now.
      return (store[op] as (...a: unknown[]) => unknown).apply(store, args);
    };
  }
  return new Proxy(store, {
    get: (target, prop, receiver) =>
      Object.hasOwn(wrapped, prop)
        ? wrapped[prop as (typeof METERED)[number]]
        : Reflect.get(target, prop, receiver),
  });
}
