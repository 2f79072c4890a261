import { createPublicKey, type KeyObject, sign, verify } from "node:crypto";

/**
 * Signatures of the agent protocol (specs/agent-protocol.md §3), ed25519, base64 on the wire.
 * `data` is always the JSON *text* as delivered, never re-serialised between signing and verifying.
 *
 * Two versions. v1 (agents that negotiated nothing) signs a plain concatenation of some fields. v2 signs
 * canonical bytes: a JSON array of a purpose tag and every field (strings and integers only, so any
 * JSON encoder produces the same bytes), covering the reservation id and the device; removals, controls
 * (with the feed sequence they came with) and a boot sync's list are signed too.
 */

/** The newest protocol this code speaks; agents negotiate it at login. */
export const AGENT_PROTOCOL = 2;

/** Canonical bytes: `["tag", field, ...]` as JSON (unambiguous: every field is quoted or a number). */
const canonical = (tag: string, ...fields: (string | number)[]): Buffer => {
  for (const f of fields) {
    if (typeof f === "number" && !Number.isSafeInteger(f)) throw new Error(`not a safe integer: ${f}`);
  }
  return Buffer.from(JSON.stringify([tag, ...fields]), "utf8");
};

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

// ---- v2 ----

export interface SignedReservationFieldsV2 extends SignedReservationFields {
  id: string;
}

/** A reservation to apply: its id, its device, its workspace and everything that says what to run. */
export const reservationBytesV2 = (r: SignedReservationFieldsV2): Buffer =>
  canonical("berth-reservation-v2", r.id, r.nodeId, r.workspaceId, r.type, r.data, r.created, r.duration);

/** A removal: this reservation, on this device, is to go (`seq`: its removal's feed sequence). */
export const removalBytesV2 = (r: { id: string; nodeId: string; seq: number }): Buffer =>
  canonical("berth-removal-v2", r.id, r.nodeId, r.seq);

/** A control on a reservation's workload; `seq` is its feed sequence, so an older one can be told apart. */
export const controlBytesV2 = (c: {
  id: string;
  nodeId: string;
  action: string;
  seq: number;
  issuedAt: string;
}): Buffer => canonical("berth-control-v2", c.id, c.nodeId, c.action, c.seq, c.issuedAt);

/**
 * A sampling lease's control (specs/launcher-extras.md §1): sample this reservation's workload every
 * `intervalSeconds` until `until`. Its own domain tag, so no other control's signature verifies as one.
 */
export const sampleBytesV2 = (c: {
  id: string;
  nodeId: string;
  seq: number;
  issuedAt: string;
  intervalSeconds: number;
  until: string;
}): Buffer => canonical("berth-sample-v2", c.id, c.nodeId, c.seq, c.issuedAt, c.intervalSeconds, c.until);

/**
 * A boot sync: at `at`, these (sorted) ids are everything the device should have. Signed so that only the
 * control plane can make an agent drop what it runs for not being listed.
 */
export const syncBytesV2 = (s: { nodeId: string; at: string; ids: string[] }): Buffer =>
  canonical("berth-sync-v2", s.nodeId, s.at, ...[...s.ids].sort());

/** Verifies canonical bytes; false for fields that cannot be encoded (a fraction, a missing field). */
const verifyV2 = (bytes: () => Buffer, signature: string, key: KeyObject | string): boolean => {
  try {
    return verifyBytes(bytes(), signature, key);
  } catch {
    return false;
  }
};
export const verifyReservationV2 = (
  r: SignedReservationFieldsV2 & { signature: string },
  key: KeyObject | string,
) => verifyV2(() => reservationBytesV2(r), r.signature, key);
export const verifyRemovalV2 = (
  r: { id: string; nodeId: string; seq: number; signature: string },
  key: KeyObject | string,
) => verifyV2(() => removalBytesV2(r), r.signature, key);
export const verifyControlV2 = (
  c: { id: string; nodeId: string; action: string; seq: number; issuedAt: string; signature: string },
  key: KeyObject | string,
) => verifyV2(() => controlBytesV2(c), c.signature, key);
export const verifySampleV2 = (
  c: Parameters<typeof sampleBytesV2>[0] & { signature: string },
  key: KeyObject | string,
) => verifyV2(() => sampleBytesV2(c), c.signature, key);
export const verifySyncV2 = (
  s: { nodeId: string; at: string; ids: string[]; signature: string },
  key: KeyObject | string,
) => verifyV2(() => syncBytesV2(s), s.signature, key);
