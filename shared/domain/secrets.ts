import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  hkdfSync,
  type KeyObject,
  randomBytes,
} from "node:crypto";
import { publicKeyToBase64 } from "./signing.ts";

/**
 * The control plane's one root secret (32 random bytes: a file in the local data dir, an sst.Secret
 * in AWS). Purpose keys are derived from it with HKDF, so adding a purpose never adds a secret to manage.
 */
export const SERVER_SECRET_BYTES = 32;

export const newServerSecret = (): string => randomBytes(SERVER_SECRET_BYTES).toString("base64url");

export interface ServerKeys {
  /** HMAC key for page tokens. */
  pageToken: Buffer;
  /** HMAC key session tokens are derived with. */
  session: Buffer;
  /** Wraps workspaces' data keys for secrets (local hosts; AWS uses KMS instead). */
  secretsKek: Buffer;
  /** The control plane's ed25519 key pair: signs reservations; agents learn the public half at login. */
  signing: { privateKey: KeyObject; publicKey: KeyObject; publicKeyBase64: string };
}

// PKCS#8 DER header of an ed25519 private key; the 32-byte seed follows it.
const ED25519_PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

export function deriveKeys(serverSecret: string): ServerKeys {
  const ikm = Buffer.from(serverSecret, "base64url");
  if (ikm.length < SERVER_SECRET_BYTES) {
    throw new Error(`the server secret must encode at least ${SERVER_SECRET_BYTES} bytes (base64url)`);
  }
  const derive = (purpose: string) => Buffer.from(hkdfSync("sha256", ikm, "berth", purpose, 32));
  const privateKey = createPrivateKey({
    key: Buffer.concat([ED25519_PKCS8_PREFIX, derive("reservation-signing")]),
    format: "der",
    type: "pkcs8",
  });
  const publicKey = createPublicKey(privateKey);
  return {
    pageToken: derive("page-token"),
    session: derive("session-token"),
    secretsKek: derive("secrets-kek"),
    signing: { privateKey, publicKey, publicKeyBase64: publicKeyToBase64(publicKey) },
  };
}

/**
 * A device's session token: `berth_st_<deviceId>_<HMAC(session key, deviceId:generation)>`.
 * Derived rather than stored, so a relogin can hand back the *current* token (GPUd expects that) while
 * only its hash is kept; bumping the generation revokes it.
 */
export function sessionToken(sessionKey: Buffer, deviceId: string, generation: number): string {
  const mac = createHmac("sha256", sessionKey).update(`${deviceId}:${generation}`).digest("base64url");
  return `berth_st_${deviceId}_${mac}`;
}
