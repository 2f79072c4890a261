import type { KeyObject } from "node:crypto";
import type { AgentReservation } from "../../domain/feed.ts";
import { controlBytesV2, removalBytesV2, signBytes, syncBytesV2 } from "../../domain/signing.ts";

/** An entry without its stored protocol 2 signatures (what a protocol 1 agent or a user sees). */
export function withoutV2(r: AgentReservation): AgentReservation {
  const { signatureV2: _, ...rest } = r;
  if (!rest.control) return rest;
  const { signatureV2: _c, ...control } = rest.control;
  return { ...rest, control };
}

/**
 * What a device is sent, signed the way its agent verifies (the protocol it negotiated at login).
 * Protocol 1 gets the signatures of protocol 1. Protocol 2 gets the apply's signature made at creation
 * (never one made now: a reservation written to storage by anyone but the control plane does not verify),
 * a control's signature made when it was written (with its feed sequence), and a removal signed as it is
 * delivered (an agent acts on no unsigned removal; a removal only ever stops work).
 */
export function sealForAgent(key: KeyObject, r: AgentReservation, protocol = 1): AgentReservation {
  const plain = withoutV2(r);
  if (protocol < 2) {
    if (!plain.control) return plain;
    const { seq: _, ...control } = plain.control;
    return { ...plain, control };
  }
  const seq = r.seq ?? 0;
  if (r.control) {
    const c = { id: r.id, nodeId: r.nodeId, action: r.control.action, seq, issuedAt: r.control.issuedAt };
    // A control written before protocol 2 existed is signed now (it can only pause or stop work).
    const signature = r.control.signatureV2 ?? signBytes(controlBytesV2(c), key);
    return { ...plain, control: { ...plain.control!, seq, signature } };
  }
  return {
    ...plain,
    // Without one (created before protocol 2, or not by the control plane) the agent refuses it.
    signature: r.signatureV2 ?? "",
    ...(r.toDelete
      ? { removal: { seq, signature: signBytes(removalBytesV2({ id: r.id, nodeId: r.nodeId, seq }), key) } }
      : {}),
  };
}

/** A boot sync's list, signed: what the device should have at `at`, and nothing else. */
export function signSync(key: KeyObject, nodeId: string, at: string, ids: string[]) {
  return { at, ids, signature: signBytes(syncBytesV2({ nodeId, at, ids }), key) };
}
