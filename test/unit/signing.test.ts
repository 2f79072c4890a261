import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { deriveKeys, newServerSecret } from "../../shared/domain/secrets.ts";
import {
  controlBytesV2,
  publicKeyFromBase64,
  publicKeyToBase64,
  removalBytesV2,
  reservationBytesV2,
  reservationSigningBytes,
  signBytes,
  signReservation,
  signResult,
  syncBytesV2,
  verifyControlV2,
  verifyRemovalV2,
  verifyReservation,
  verifyReservationV2,
  verifyResult,
  verifySyncV2,
} from "../../shared/domain/signing.ts";

const keys = deriveKeys(newServerSecret());
const reservation = {
  nodeId: "node-1",
  workspaceId: "default",
  type: "process",
  data: '{"argv":["echo","hi"]}',
  created: "2026-11-01T00:00:00.000Z",
  duration: 60,
};

describe("reservation signatures", () => {
  const signature = signReservation(reservation, keys.signing.privateKey);

  it("sign nodeId + workspaceId + type + data + created + duration", () => {
    expect(reservationSigningBytes(reservation).toString()).toBe(
      'node-1defaultprocess{"argv":["echo","hi"]}2026-11-01T00:00:00.000Z60',
    );
  });

  it("verify with the control plane's public key as sent at login", () => {
    expect(verifyReservation({ ...reservation, signature }, keys.signing.publicKeyBase64)).toBe(true);
  });

  it.each([
    ["data", { data: '{"argv":["rm","-rf","/"]}' }],
    ["created (replay)", { created: "2026-12-01T00:00:00.000Z" }],
    ["duration (stretch)", { duration: 6000 }],
    ["nodeId", { nodeId: "node-2" }],
    ["workspaceId", { workspaceId: "other" }],
    ["type", { type: "container" }],
  ])("fail when %s changes", (_what, change) => {
    expect(verifyReservation({ ...reservation, ...change, signature }, keys.signing.publicKeyBase64)).toBe(
      false,
    );
  });

  it("fail with data re-serialised differently (whitespace)", () => {
    const spaced = { ...reservation, data: '{"argv": ["echo", "hi"]}', signature };
    expect(verifyReservation(spaced, keys.signing.publicKeyBase64)).toBe(false);
  });

  it("fail with another key, a malformed signature or a malformed key", () => {
    const other = deriveKeys(newServerSecret());
    expect(verifyReservation({ ...reservation, signature }, other.signing.publicKeyBase64)).toBe(false);
    expect(
      verifyReservation({ ...reservation, signature: "bm90IGEgc2ln" }, keys.signing.publicKeyBase64),
    ).toBe(false);
    expect(verifyReservation({ ...reservation, signature }, "short")).toBe(false);
  });
});

describe("result signatures", () => {
  it("cover id + state + error + data with the node's key", () => {
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const pub = publicKeyToBase64(publicKey);
    const result = { id: "r1", state: "ok", error: "", data: '{"exitCode":0}' };
    const signature = signResult(result, privateKey);
    expect(verifyResult({ ...result, signature }, pub)).toBe(true);
    expect(verifyResult({ ...result, data: '{"exitCode":1}', signature }, pub)).toBe(false);
    expect(verifyResult({ ...result, state: "error", signature }, pub)).toBe(false);
    expect(publicKeyToBase64(publicKeyFromBase64(pub))).toBe(pub);
  });
});

describe("the control plane key", () => {
  it("is derived from the server secret: the same secret always gives the same key", () => {
    const secret = newServerSecret();
    expect(deriveKeys(secret).signing.publicKeyBase64).toBe(deriveKeys(secret).signing.publicKeyBase64);
    expect(deriveKeys(secret).signing.publicKeyBase64).not.toBe(keys.signing.publicKeyBase64);
  });
});

describe("signing v2", () => {
  const key = keys.signing.privateKey;
  const r = { id: "01jres", ...reservation };

  it("signs canonical bytes: a tag and every field, the id and the device among them", () => {
    expect(reservationBytesV2(r).toString()).toBe(
      JSON.stringify([
        "berth-reservation-v2",
        "01jres",
        "node-1",
        "default",
        "process",
        r.data,
        r.created,
        60,
      ]),
    );
    const signature = signBytes(reservationBytesV2(r), key);
    expect(verifyReservationV2({ ...r, signature }, keys.signing.publicKey)).toBe(true);
    for (const changed of [{ id: "01jother" }, { nodeId: "node-2" }, { duration: 61 }, { data: "{}" }]) {
      expect(verifyReservationV2({ ...r, ...changed, signature }, keys.signing.publicKey)).toBe(false);
    }
  });

  it("is unambiguous where v1 was not: a character moved from one field to the next changes the bytes", () => {
    const shifted = { ...r, nodeId: "node-", workspaceId: "1default" };
    expect(reservationSigningBytes(shifted).equals(reservationSigningBytes(r))).toBe(true); // v1's flaw
    expect(reservationBytesV2(shifted).equals(reservationBytesV2(r))).toBe(false);
    const signature = signBytes(reservationBytesV2(r), key);
    expect(verifyReservationV2({ ...shifted, signature }, keys.signing.publicKey)).toBe(false);
  });

  it("signs removals and controls with their device and feed sequence, and a boot sync's list", () => {
    const removal = { id: "01jres", nodeId: "node-1", seq: 7 };
    const rs = signBytes(removalBytesV2(removal), key);
    expect(verifyRemovalV2({ ...removal, signature: rs }, keys.signing.publicKey)).toBe(true);
    expect(verifyRemovalV2({ ...removal, seq: 8, signature: rs }, keys.signing.publicKey)).toBe(false);
    expect(verifyRemovalV2({ ...removal, nodeId: "node-2", signature: rs }, keys.signing.publicKey)).toBe(
      false,
    );
    const control = { id: "01jres", nodeId: "node-1", action: "suspend", seq: 9, issuedAt: r.created };
    const cs = signBytes(controlBytesV2(control), key);
    expect(verifyControlV2({ ...control, signature: cs }, keys.signing.publicKey)).toBe(true);
    expect(verifyControlV2({ ...control, action: "kill", signature: cs }, keys.signing.publicKey)).toBe(
      false,
    );
    expect(verifyControlV2({ ...control, seq: 10, signature: cs }, keys.signing.publicKey)).toBe(false);
    const sync = { nodeId: "node-1", at: r.created, ids: ["b", "a"] };
    const ss = signBytes(syncBytesV2(sync), key);
    expect(verifySyncV2({ ...sync, ids: ["a", "b"], signature: ss }, keys.signing.publicKey)).toBe(true);
    expect(verifySyncV2({ ...sync, ids: ["a"], signature: ss }, keys.signing.publicKey)).toBe(false);
  });

  it("refuses what cannot be encoded canonically (a fraction, a missing field) instead of throwing", () => {
    const signature = signBytes(reservationBytesV2(r), key);
    expect(verifyReservationV2({ ...r, duration: 60.5, signature }, keys.signing.publicKey)).toBe(false);
    expect(
      verifySyncV2(
        { nodeId: "n", at: "x", ids: 3 as unknown as string[], signature },
        keys.signing.publicKey,
      ),
    ).toBe(false);
  });
});
