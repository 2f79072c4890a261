import { useEffect, useState } from "preact/hooks";

/** The dashboard lives under /ui/; the browser's history does the routing (no page loads between pages). */
export const BASE = "/ui";

export function href(path: string): string {
  return `${BASE}${path}`;
}

export function navigate(path: string, replace = false) {
  const url = href(path);
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  dispatchEvent(new PopStateEvent("popstate"));
}

/** The path after /ui (e.g. `/jobs/01...`) and its query, kept current as the user navigates. */
export function useLocation(): { path: string; query: URLSearchParams } {
  const read = () => ({
    path: location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) || "/" : "/",
    query: new URLSearchParams(location.search),
  });
  const [where, setWhere] = useState(read);
  useEffect(() => {
    const moved = () => setWhere(read());
    addEventListener("popstate", moved);
    return () => removeEventListener("popstate", moved);
  }, []);
  return where;
}

/** Matches `/jobs/:id` against `/jobs/01abc`: the parameters, or undefined. */
export function match(pattern: string, path: string): Record<string, string> | undefined {
  const want = pattern.split("/").filter(Boolean);
  const got = path.split("/").filter(Boolean);
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    if (w.startsWith(":")) params[w.slice(1)] = decodeURIComponent(got[i]!);
    else if (w !== got[i]) return undefined;
  }
  return params;
}

/** Replaces the query of the current page (filters), without a history entry per keystroke. */
export function setQuery(values: Record<string, string | undefined>) {
  const q = new URLSearchParams(location.search);
  for (const [k, v] of Object.entries(values)) {
    if (v) q.set(k, v);
    else q.delete(k);
  }
  const s = q.toString();
  history.replaceState(null, "", `${location.pathname}${s ? `?${s}` : ""}`);
  dispatchEvent(new PopStateEvent("popstate"));
}
