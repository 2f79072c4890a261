import type { Context } from "hono";
import type { Page } from "../ports/pagination.ts";
import type { AppDeps } from "./deps.ts";
import type { AppEnv } from "./env.ts";
import { decodePageToken, encodePageToken, type PageBinding } from "./page-token.ts";

/**
 * Runs one page of a list for a route: decodes the page token (bound to workspace, route and filters),
 * calls `load`, and sets the `Next-Page-Token`, `Page-Size` and `Total-Items` headers. `Total-Items`
 * is sent when it is known without extra reads: on the last page.
 */
export async function listPage<T>(
  deps: AppDeps,
  c: Context<AppEnv>,
  query: { pageSize: number; pageToken?: string | undefined },
  filters: Record<string, unknown>,
  load: (page: { limit: number; cursor?: Record<string, unknown> }) => Promise<Page<T>>,
): Promise<{ items: T[]; nextPageToken?: string }> {
  const binding: PageBinding = {
    workspaceId: c.get("principal").workspaceId,
    route: c.req.routePath,
    filters,
  };
  const from = query.pageToken ? decodePageToken(deps.keys.pageToken, binding, query.pageToken) : undefined;
  const page = await load({ limit: query.pageSize, cursor: from?.cursor });
  const seen = (from?.seen ?? 0) + page.items.length;
  c.header("Page-Size", String(query.pageSize));
  if (page.cursor) {
    const nextPageToken = encodePageToken(deps.keys.pageToken, binding, page.cursor, seen);
    c.header("Next-Page-Token", nextPageToken);
    return { items: page.items, nextPageToken };
  }
  c.header("Total-Items", String(seen));
  return { items: page.items };
}
