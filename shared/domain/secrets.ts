import { hkdfSync, randomBytes } from "node:crypto";

/**
 * The control plane's one root secret (32 random bytes: a file in the local data dir, an sst.Secret
 * in AWS). Purpose keys are derived from it with HKDF, so adding a purpose never adds a secret to manage.
 */
export const SERVER_SECRET_BYTES = 32;

export const newServerSecret = (): string => randomBytes(SERVER_SECRET_BYTES).toString("base64url");

export interface ServerKeys {
  /** HMAC key for page tokens. */
  pageToken: Buffer;
}

export function deriveKeys(serverSecret: string): ServerKeys {
  const ikm = Buffer.from(serverSecret, "base64url");
  if (ikm.length < SERVER_SECRET_BYTES) {
    throw new Error(`the server secret must encode at least ${SERVER_SECRET_BYTES} bytes (base64url)`);
  }
  const derive = (purpose: string) => Buffer.from(hkdfSync("sha256", ikm, "berth", purpose, 32));
  return { pageToken: derive("page-token") };
}
