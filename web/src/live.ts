import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "./api.ts";

/** How often lists refresh while the tab is visible: each refresh is one request per list (304 if unchanged). */
export const REFRESH_MS = 5000;

export interface Live<T> {
  data: T | undefined;
  error: ApiError | undefined;
  /** Load again now (after an action). */
  refresh: () => Promise<void>;
}

/**
 * Data that keeps itself fresh: loaded at once, again every `everyMs` while the page is visible (never while
 * hidden, never two at a time), and whenever `key` changes.
 */
export function useLive<T>(load: () => Promise<T>, key: unknown[], everyMs = REFRESH_MS): Live<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<ApiError>();
  const busy = useRef(false);
  const current = useRef(load);
  current.current = load;
  const generation = useRef(0);
  const refresh = useCallback(async () => {
    if (busy.current) return;
    busy.current = true;
    const mine = generation.current;
    try {
      const next = await current.current();
      if (mine !== generation.current) return;
      setData(next);
      setError(undefined);
    } catch (err) {
      if (mine !== generation.current) return;
      setError(err instanceof ApiError ? err : new ApiError(0, "Error", (err as Error).message));
    } finally {
      busy.current = false;
    }
  }, []);
  // `key`: the caller's list of what the load depends on.
  useEffect(() => {
    generation.current++;
    busy.current = false;
    setData(undefined);
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
