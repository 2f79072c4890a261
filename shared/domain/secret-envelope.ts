import { createCipheriv, createDecipheriv, createHmac, randomBytes } from "node:crypto";

/**
 * Secrets at rest (specs/secrets.md §2): each value AES-256-GCM under its workspace's data key, with AAD
 * `berth-secret-v1|<ws>|<ns>|<name>|<version>` (a ciphertext copied to another name or version does not
 * open); data keys are stored only wrapped, the same way, under the key-encryption key (local: derived from the
 * server secret; AWS: KMS). Encoded `<nonce>.<ciphertext and tag>`, base64url.
 */

export const secretAad = (ws: string, ns: string, name: string, version: number) =>
  `berth-secret-v1|${ws}|${ns}|${name}|${version}`;
export const dataKeyAad = (ws: string, keyId: string) => `berth-datakey-v1|${ws}|${keyId}`;

export const newDataKey = (): Buffer => randomBytes(32);

export function encrypt(key: Buffer, value: Buffer, aad: string): string {
  const nonce = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, nonce);
  cipher.setAAD(Buffer.from(aad, "utf8"));
  const ct = Buffer.concat([cipher.update(value), cipher.final(), cipher.getAuthTag()]);
  return `${nonce.toString("base64url")}.${ct.toString("base64url")}`;
}

/** Throws when `sealed` was made with another key or AAD, or was altered. */
export function decrypt(key: Buffer, sealed: string, aad: string): Buffer {
  const [n, c] = sealed.split(".");
  const nonce = Buffer.from(n ?? "", "base64url");
  const ct = Buffer.from(c ?? "", "base64url");
  if (nonce.length !== 12 || ct.length < 16) throw new Error("not an encrypted value");
  const decipher = createDecipheriv("aes-256-gcm", key, nonce);
  decipher.setAAD(Buffer.from(aad, "utf8"));
  decipher.setAuthTag(ct.subarray(-16));
  return Buffer.concat([decipher.update(ct.subarray(0, -16)), decipher.final()]);
}

/** Tells two versions of a value apart without showing it: the first 16 hex of HMAC-SHA256(data key, value). */
export const fingerprint = (dataKey: Buffer, value: Buffer): string =>
  createHmac("sha256", dataKey).update(value).digest("hex").slice(0, 16);
