import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { ID_LENGTH, isId } from "./ids.ts";

/**
 * Bearer secrets. Every token names the object it belongs to and carries 32 random bytes:
 * `<prefix><id>_<secret>`. The object stores only the SHA-256 of the whole token, so the token can be
 * looked up by id (one consistent read, no secondary index) and checked in constant time.
 */
export const TokenKind = {
  apiKey: "berth_sk_",
  registration: "berth_rt_",
  session: "berth_st_",
} as const;
export type TokenKind = keyof typeof TokenKind;

const SECRET_BYTES = 32;

export function newToken(kind: TokenKind, id: string): string {
  return `${TokenKind[kind]}${id}_${randomBytes(SECRET_BYTES).toString("base64url")}`;
}

/** The id a token claims to belong to, or undefined when the token is not of that kind's shape. */
export function tokenId(kind: TokenKind, token: string): string | undefined {
  const prefix = TokenKind[kind];
  if (!token.startsWith(prefix)) return undefined;
  const id = token.slice(prefix.length, prefix.length + ID_LENGTH);
  const secret = token.slice(prefix.length + ID_LENGTH + 1);
  if (!isId(id) || token[prefix.length + ID_LENGTH] !== "_" || !/^[A-Za-z0-9_-]{43}$/.test(secret)) {
    return undefined;
  }
  return id;
}

export const hashToken = (token: string): string => createHash("sha256").update(token).digest("hex");

/** Constant-time comparison of a presented token against a stored hash. */
export function tokenMatches(token: string, storedHash: string): boolean {
  const a = Buffer.from(hashToken(token), "hex");
  const b = Buffer.from(storedHash, "hex");
  return a.length === b.length && timingSafeEqual(a, b);
}

/** What lists show of a token: its kind and id, never any of the secret. */
export const tokenPrefix = (kind: TokenKind, id: string): string => `${TokenKind[kind]}${id}`;
