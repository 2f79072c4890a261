import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { invalidRequest } from "../domain/errors.ts";
import type { Cursor } from "../ports/pagination.ts";

/**
 * Page tokens: the storage cursor plus what it is bound to, signed with HMAC-SHA256. A token from
 * another workspace or another query, or one that was altered, is rejected with 400.
 */
interface PageTokenBody {
  /** workspace + route + filters, hashed */
  q: string;
  /** storage cursor */
  c: Cursor;
  /** items returned before this page, so the last page knows the total */
  n: number;
}

export interface PageBinding {
  workspaceId: string;
  route: string;
  /** The list's filters (everything but pageSize and pageToken). */
  filters: Record<string, unknown>;
}

const fingerprint = (b: PageBinding): string =>
  createHash("sha256")
    .update(
      JSON.stringify([
        b.workspaceId,
        b.route,
        Object.entries(b.filters).sort(([a], [z]) => a.localeCompare(z)),
      ]),
    )
    .digest("base64url")
    .slice(0, 22);

const sign = (key: Buffer, body: string) => createHmac("sha256", key).update(body).digest("base64url");

export function encodePageToken(key: Buffer, binding: PageBinding, cursor: Cursor, seen: number): string {
  const body = Buffer.from(
    JSON.stringify({ q: fingerprint(binding), c: cursor, n: seen } satisfies PageTokenBody),
  ).toString("base64url");
  return `${body}.${sign(key, body)}`;
}

export function decodePageToken(
  key: Buffer,
  binding: PageBinding,
  token: string,
): { cursor: Cursor; seen: number } {
  const bad = (why: string) =>
    invalidRequest(`invalid pageToken: ${why}; start again without pageToken`, [
      { path: "pageToken", message: why },
    ]);
  const [body, mac, extra] = token.split(".");
  if (!body || !mac || extra !== undefined) throw bad("malformed");
  const expected = Buffer.from(sign(key, body));
  const given = Buffer.from(mac);
  if (expected.length !== given.length || !timingSafeEqual(expected, given))
    throw bad("signature does not match");
  const parsed = JSON.parse(Buffer.from(body, "base64url").toString("utf8")) as PageTokenBody;
  if (parsed.q !== fingerprint(binding)) throw bad("it belongs to another list or other filters");
  return { cursor: parsed.c, seen: parsed.n };
}
