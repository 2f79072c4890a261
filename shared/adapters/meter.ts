import { AsyncLocalStorage } from "node:async_hooks";
import type { ActivityTotals, Meter, MeterActivity, WorkspaceCounters } from "../ports/meter.ts";
import type { Store } from "../ports/store.ts";

/** A meter that follows the workspace through async calls (AsyncLocalStorage). */
export function createMeter(): Meter & { scope(): Scope | undefined } {
  const scope = new AsyncLocalStorage<Scope>();
  const counters = new Map<string, WorkspaceCounters>();
  const totals: ActivityTotals = { agentMs: 0, agentStorage: 0, changeCheckStorage: 0 };
  const workspace = (workspaceId: string) => {
    let c = counters.get(workspaceId);
    if (!c) {
      c = {
        storage: new Map(),
        pollsWaiting: 0,
        placementConflicts: 0,
        corruptItems: 0,
        agentMs: 0,
        agentStorage: 0,
      };
      counters.set(workspaceId, c);
    }
    return c;
  };
  return {
    within: (workspaceId, fn, activity) =>
      scope.run({ workspaceId, activity: activity ?? scope.getStore()?.activity }, fn),
    current: () => scope.getStore()?.workspaceId,
    scope: () => scope.getStore(),
    workspace,
    agentTime(workspaceId, ms) {
      workspace(workspaceId).agentMs += ms;
      totals.agentMs += ms;
    },
    totals,
  };
}

interface Scope {
  workspaceId: string | undefined;
  activity: MeterActivity | undefined;
}

const METERED = ["get", "getMany", "put", "update", "delete", "query", "transact", "scan"] as const;

/**
 * The store, counting each call against the workspace it is made for (calls outside any workspace, such
 * as the sweeper's or a login's before its token is known, count only in the engine's process-wide total).
 */
export function meteredStore(store: Store, meter: ReturnType<typeof createMeter>): Store {
  const wrapped: Partial<Record<(typeof METERED)[number], unknown>> = {};
  for (const op of METERED) {
    wrapped[op] = (...args: unknown[]) => {
      const at = meter.scope();
      const counters = at?.workspaceId !== undefined ? meter.workspace(at.workspaceId) : undefined;
      if (counters) counters.storage.set(op, (counters.storage.get(op) ?? 0) + 1);
      if (at?.activity === "agent") {
        meter.totals.agentStorage++;
        if (counters) counters.agentStorage++;
      } else if (at?.activity === "change-check") meter.totals.changeCheckStorage++;
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
