import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { openSealed, seal, sealedAad } from "../../shared/domain/sealed.ts";
import {
  dataKeyAad,
  decrypt,
  encrypt,
  fingerprint,
  newDataKey,
  secretAad,
} from "../../shared/domain/secret-envelope.ts";
import { publicKeyToBase64 } from "../../shared/domain/signing.ts";

/** A node's encryption key as the agent makes it (agent/state.ts) and sends it at login. */
const node = () => {
  const { privateKey, publicKey } = generateKeyPairSync("x25519");
  return { privateKey, key: publicKeyToBase64(publicKey) };
};

describe("values sealed to a node (secrets.md §3)", () => {
  const aad = sealedAad("dev-a", "res-1", "env:HF_TOKEN");

  it("opens on the node it was sealed to, with the same node, reservation and target", () => {
    const a = node();
    const sealed = seal(a.key, Buffer.from("hf_s3cret"), aad);
    expect(sealed).toMatch(/^bs1\.[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    expect(sealed).not.toContain("hf_s3cret");
    expect(openSealed(a.privateKey, sealed, aad).toString()).toBe("hf_s3cret");
    // A fresh ephemeral key each time: the same value never seals alike.
    expect(seal(a.key, Buffer.from("hf_s3cret"), aad)).not.toBe(sealed);
  });

  it("does not open on another node, for another reservation or target, or altered", () => {
    const a = node();
    const b = node();
    const sealed = seal(a.key, Buffer.from("hf_s3cret"), aad);
    expect(() => openSealed(b.privateKey, sealed, aad)).toThrow();
    expect(() => openSealed(a.privateKey, sealed, sealedAad("dev-a", "res-2", "env:HF_TOKEN"))).toThrow();
    expect(() => openSealed(a.privateKey, sealed, sealedAad("dev-a", "res-1", "env:OTHER"))).toThrow();
    expect(() => openSealed(a.privateKey, sealed, sealedAad("dev-b", "res-1", "env:HF_TOKEN"))).toThrow();
    const parts = sealed.split(".");
    const flipped = Buffer.from(parts[3]!, "base64url");
    flipped[0]! ^= 1;
    expect(() =>
      openSealed(a.privateKey, [...parts.slice(0, 3), flipped.toString("base64url")].join("."), aad),
    ).toThrow();
    expect(() => openSealed(a.privateKey, "bs1.x.y", aad)).toThrow(/not a sealed value/);
    expect(() => seal(Buffer.alloc(31).toString("base64"), Buffer.from("v"), aad)).toThrow(/32 bytes/);
  });
});

describe("secrets at rest (secrets.md §2)", () => {
  it("encrypts under a data key with the secret's place and version as AAD", () => {
    const dek = newDataKey();
    const aad = secretAad("ws", "default", "hf", 3);
    const ct = encrypt(dek, Buffer.from("value"), aad);
    expect(decrypt(dek, ct, aad).toString()).toBe("value");
    expect(() => decrypt(dek, ct, secretAad("ws", "default", "hf", 4))).toThrow();
    expect(() => decrypt(dek, ct, secretAad("ws", "default", "other", 3))).toThrow();
    expect(() => decrypt(dek, ct, secretAad("ws2", "default", "hf", 3))).toThrow();
    expect(() => decrypt(newDataKey(), ct, aad)).toThrow();
    // Data keys are wrapped the same way.
    const kek = newDataKey();
    const wrapped = encrypt(kek, dek, dataKeyAad("ws", "k1"));
    expect(decrypt(kek, wrapped, dataKeyAad("ws", "k1")).equals(dek)).toBe(true);
    expect(() => decrypt(kek, wrapped, dataKeyAad("ws", "k2"))).toThrow();
  });

  it("fingerprints a value per workspace: equal values alike, others not, useless without the key", () => {
    const dek = newDataKey();
    expect(fingerprint(dek, Buffer.from("a"))).toMatch(/^[0-9a-f]{16}$/);
    expect(fingerprint(dek, Buffer.from("a"))).toBe(fingerprint(dek, Buffer.from("a")));
    expect(fingerprint(dek, Buffer.from("a"))).not.toBe(fingerprint(dek, Buffer.from("b")));
    expect(fingerprint(newDataKey(), Buffer.from("a"))).not.toBe(fingerprint(dek, Buffer.from("a")));
  });
});
