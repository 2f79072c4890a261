import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "./api.ts";

/** How often lists refresh while the tab is visible: each refresh is one request per list (304 if unchanged). */
export const REFRESH_MS = 5000;

export interface Live<T> {
  data: T | undefined;
  error: ApiError | undefined;
  /** Load again now (after an action); if a load is under way, once more when it is done. */
  refresh: () => Promise<void>;
}

/**
 * Data that keeps itself fresh: loaded at once, again every `everyMs` while the page is visible (never while
 * hidden, never two at a time), and whenever `key` (what the load depends on) changes. After a change of key
 * the previous data stays shown until the new answer (no flash of "Loading…"), and answers to an older key are
 * dropped.
 */
export function useLive<T>(load: () => Promise<T>, key: unknown[], everyMs = REFRESH_MS): Live<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<ApiError>();
  const current = useRef(load);
  current.current = load;
  // One load at a time per key; `again`: asked for while one was under way.
  const state = useRef({ generation: 0, busy: false, again: false });
  const refresh = useCallback(async () => {
    const s = state.current;
    if (s.busy) {
      s.again = true;
      return;
    }
    const mine = s.generation;
    s.busy = true;
    try {
      do {
        s.again = false;
        try {
          const next = await current.current();
          if (mine !== state.current.generation) return;
          setData(next);
          setError(undefined);
        } catch (err) {
          if (mine !== state.current.generation) return;
          setError(err instanceof ApiError ? err : new ApiError(0, "Error", (err as Error).message));
        }
      } while (s.again);
    } finally {
      s.busy = false; // this key's state (a new key has its own)
    }
  }, []);
  // `key`: the caller's list of what the load depends on.
  useEffect(() => {
    state.current = { generation: state.current.generation + 1, busy: false, again: false };
    setError(undefined);
    void refresh();
    const timer = setInterval(() => {
      if (document.visibilityState === "visible") void refresh();
    }, everyMs);
    const visible = () => document.visibilityState === "visible" && void refresh();
    document.addEventListener("visibilitychange", visible);
    return () => {
      clearInterval(timer);
      document.removeEventListener("visibilitychange", visible);
    };
  }, key);
  return { data, error, refresh };
}
