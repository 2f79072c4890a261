import {
  createCipheriv,
  createDecipheriv,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
  randomBytes,
} from "node:crypto";

/**
 * Values sealed to one node (specs/secrets.md §3, zos `secret_env`): a fresh ephemeral X25519 key per value,
 * its shared secret with the node's key through HKDF-SHA256 (salt: both public keys, info `berth-sealed-v1`),
 * AES-256-GCM with AAD `bs1|<node>|<reservation>|<target>`, so a value opens only on that node, for that
 * reservation and that target. Encoded `bs1.<ephemeral public>.<nonce>.<ciphertext and tag>`, base64url.
 */

const PREFIX = "bs1";
const INFO = "berth-sealed-v1";
// SPKI DER header of an X25519 public key; the 32 raw bytes follow it.
const X25519_SPKI_PREFIX = Buffer.from("302a300506032b656e032100", "hex");

/** Where a sealed value goes: `env:HF_TOKEN`, `file:/run/secrets/db.json` or `registry:ghcr.io`. */
export const sealedAad = (nodeId: string, reservationId: string, target: string) =>
  `${PREFIX}|${nodeId}|${reservationId}|${target}`;

/** The target of a registry password (an application container's `auth`). */
export const registryTarget = (serverAddress: string) => `registry:${serverAddress}`;

const rawOf = (key: KeyObject) => key.export({ format: "der", type: "spki" }).subarray(-32);

function x25519Public(raw: Buffer): KeyObject {
  if (raw.length !== 32) throw new Error("an X25519 public key is 32 bytes");
  return createPublicKey({ key: Buffer.concat([X25519_SPKI_PREFIX, raw]), format: "der", type: "spki" });
}

function keyOf(shared: Buffer, ephemeral: Buffer, node: Buffer): Buffer {
  return Buffer.from(hkdfSync("sha256", shared, Buffer.concat([ephemeral, node]), INFO, 32));
}

/** Seals `value` to the node whose X25519 public key is `nodeKey` (base64 of its 32 bytes, as it logs in). */
export function seal(nodeKey: string, value: Buffer, aad: string): string {
  const node = Buffer.from(nodeKey, "base64");
  const nodePublic = x25519Public(node);
  const eph = generateKeyPairSync("x25519");
  const ephRaw = rawOf(eph.publicKey);
  const key = keyOf(diffieHellman({ privateKey: eph.privateKey, publicKey: nodePublic }), ephRaw, node);
  const nonce = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, nonce);
  cipher.setAAD(Buffer.from(aad, "utf8"));
  const ct = Buffer.concat([cipher.update(value), cipher.final(), cipher.getAuthTag()]);
  return [PREFIX, ephRaw, nonce, ct]
    .map((p) => (typeof p === "string" ? p : p.toString("base64url")))
    .join(".");
}

/** Opens a value sealed to this node (its X25519 private key); throws when it was sealed otherwise. */
export function openSealed(nodePrivate: KeyObject, sealed: string, aad: string): Buffer {
  const parts = sealed.split(".");
  if (parts.length !== 4 || parts[0] !== PREFIX) throw new Error("not a sealed value (bs1.…)");
  const [ephRaw, nonce, ct] = parts.slice(1).map((p) => Buffer.from(p, "base64url")) as [
    Buffer,
    Buffer,
    Buffer,
  ];
  if (nonce.length !== 12 || ct.length < 16) throw new Error("a sealed value is cut short");
  const node = rawOf(createPublicKey(nodePrivate));
  const key = keyOf(
    diffieHellman({ privateKey: nodePrivate, publicKey: x25519Public(ephRaw) }),
    ephRaw,
    node,
  );
  const decipher = createDecipheriv("aes-256-gcm", key, nonce);
  decipher.setAAD(Buffer.from(aad, "utf8"));
  decipher.setAuthTag(ct.subarray(-16));
  return Buffer.concat([decipher.update(ct.subarray(0, -16)), decipher.final()]);
}
