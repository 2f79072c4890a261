import { createPublicKey, type KeyObject, sign, verify } from "node:crypto";

/**
 * Signatures of the agent protocol (specs/agent-protocol.md §3), ed25519, base64 on the wire.
 * `data` is always the JSON *text* as delivered, never re-serialised between signing and verifying.
 */

export interface SignedReservationFields {
  nodeId: string;
  workspaceId: string;
  type: string;
  data: string;
  created: string;
  duration: number;
}

/** nodeId + workspaceId + type + data + created + duration, as UTF-8 bytes. */
export const reservationSigningBytes = (r: SignedReservationFields): Buffer =>
  Buffer.from(`${r.nodeId}${r.workspaceId}${r.type}${r.data}${r.created}${r.duration}`, "utf8");

export interface SignedResultFields {
  id: string;
  state: string;
  error: string;
  data: string;
}

/** id + state + error + data, as UTF-8 bytes. */
export const resultSigningBytes = (r: SignedResultFields): Buffer =>
  Buffer.from(`${r.id}${r.state}${r.error}${r.data}`, "utf8");

/**
 * A relogin's proof that the caller holds the device's key: `berth-login-v1`, the machine id and the time,
 * one per line. Only the device that registered with a key can produce it; a registration token alone
 * cannot (specs: issue 11, "relogin proves possession").
 */
export interface LoginProof {
  at: string;
  signature: string;
}
export const loginProofBytes = (machineId: string, at: string): Buffer =>
  Buffer.from(`berth-login-v1\n${machineId}\n${at}`, "utf8");
/** How far a proof's time may be from the server's (either way): covers clock skew, bounds a replay. */
export const LOGIN_PROOF_WINDOW_MS = 5 * 60_000;

// SPKI DER header of an ed25519 public key; the 32 raw bytes follow it.
const ED25519_SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

/** An ed25519 public key from its 32 raw bytes in base64 (as exchanged at login). */
export function publicKeyFromBase64(raw: string): KeyObject {
  const bytes = Buffer.from(raw, "base64");
  if (bytes.length !== 32) throw new Error("an ed25519 public key is 32 bytes");
  return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, bytes]), format: "der", type: "spki" });
}

/** The 32 raw bytes of an ed25519 public key, base64. */
export const publicKeyToBase64 = (key: KeyObject): string =>
  key.export({ format: "der", type: "spki" }).subarray(-32).toString("base64");

export const signBytes = (bytes: Buffer, privateKey: KeyObject): string =>
  sign(null, bytes, privateKey).toString("base64");

/** Whether `signature` (base64) is a valid ed25519 signature of `bytes`; false for anything malformed. */
export function verifyBytes(bytes: Buffer, signature: string, publicKey: KeyObject | string): boolean {
  try {
    const key = typeof publicKey === "string" ? publicKeyFromBase64(publicKey) : publicKey;
    const sig = Buffer.from(signature, "base64");
    return sig.length === 64 && verify(null, bytes, key, sig);
  } catch {
    return false;
  }
}

export const signReservation = (r: SignedReservationFields, key: KeyObject) =>
  signBytes(reservationSigningBytes(r), key);
export const verifyReservation = (
  r: SignedReservationFields & { signature: string },
  controlPlaneKey: KeyObject | string,
) => verifyBytes(reservationSigningBytes(r), r.signature, controlPlaneKey);
/** id + action + issuedAt, as UTF-8 bytes: a control operation on a reservation's workload. */
export const controlSigningBytes = (c: { id: string; action: string; issuedAt: string }): Buffer =>
  Buffer.from(`${c.id}${c.action}${c.issuedAt}`, "utf8");

export const signControl = (c: { id: string; action: string; issuedAt: string }, key: KeyObject) =>
  signBytes(controlSigningBytes(c), key);
export const verifyControl = (
  c: { id: string; action: string; issuedAt: string; signature: string },
  controlPlaneKey: KeyObject | string,
) => verifyBytes(controlSigningBytes(c), c.signature, controlPlaneKey);

export const signResult = (r: SignedResultFields, key: KeyObject) => signBytes(resultSigningBytes(r), key);
export const verifyResult = (r: SignedResultFields & { signature: string }, nodeKey: KeyObject | string) =>
  verifyBytes(resultSigningBytes(r), r.signature, nodeKey);

export const signLoginProof = (machineId: string, at: string, key: KeyObject): LoginProof => ({
  at,
  signature: signBytes(loginProofBytes(machineId, at), key),
});
export const verifyLoginProof = (machineId: string, proof: LoginProof, publicKey: KeyObject | string) =>
  verifyBytes(loginProofBytes(machineId, proof.at), proof.signature, publicKey);
