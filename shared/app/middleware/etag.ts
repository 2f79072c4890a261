import { createHash } from "node:crypto";
import type { MiddlewareHandler } from "hono";

/**
 * ETags on JSON reads, so a client that refreshes a list (the dashboard, every few seconds) gets `304 Not
 * Modified` and no body while nothing changed. A weak tag over the body: the storage reads are the same, what
 * a refresh saves is the bytes and the client's work. Streams (server-sent events) are left alone.
 */
export function jsonEtag(): MiddlewareHandler {
  return async (c, next) => {
    await next();
    if (c.req.method !== "GET" || c.res.status !== 200) return;
    if (!c.res.headers.get("content-type")?.startsWith("application/json")) return;
    const body = await c.res.clone().arrayBuffer();
    const tag = `W/"${createHash("sha256").update(new Uint8Array(body)).digest("base64url").slice(0, 27)}"`;
    const asked = c.req.header("if-none-match");
    if (asked?.split(",").some((t) => t.trim() === tag)) {
      const headers = new Headers(c.res.headers);
      headers.delete("content-length");
      headers.delete("content-type");
      headers.set("etag", tag);
      c.res = undefined;
      c.res = new Response(null, { status: 304, headers });
      return;
    }
    c.res.headers.set("etag", tag);
    // Never in a disk cache (answers hold job commands, output, devices): the dashboard keeps the last answer in
    // memory and revalidates it itself.
    if (!c.res.headers.has("cache-control")) c.res.headers.set("cache-control", "no-store");
  };
}
