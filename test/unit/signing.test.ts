import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { deriveKeys, newServerSecret } from "../../shared/domain/secrets.ts";
import {
  publicKeyFromBase64,
  publicKeyToBase64,
  reservationSigningBytes,
  signReservation,
  signResult,
  verifyReservation,
  verifyResult,
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
