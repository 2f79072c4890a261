import { DecryptCommand, EncryptCommand, KMSClient } from "@aws-sdk/client-kms";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { kmsKeyWrapper } from "../../shared/adapters/kms/key-wrapper.ts";
import { errorOf, testApp } from "../helpers/app.ts";
import { snapshot } from "../helpers/db.ts";

/** KMS at the SDK boundary: Encrypt is reversible by Decrypt with the same encryption context, as KMS does. */
function fakeKms() {
  const kms = mockClient(KMSClient);
  kms
    .on(EncryptCommand)
    .callsFake((input: { Plaintext: Uint8Array; EncryptionContext: Record<string, string> }) => ({
      CiphertextBlob: Buffer.from(
        JSON.stringify({ p: Buffer.from(input.Plaintext).toString("hex"), c: input.EncryptionContext }),
      ),
    }));
  kms
    .on(DecryptCommand)
    .callsFake((input: { CiphertextBlob: Uint8Array; EncryptionContext: Record<string, string> }) => {
      const blob = JSON.parse(Buffer.from(input.CiphertextBlob).toString()) as {
        p: string;
        c: Record<string, string>;
      };
      if (JSON.stringify(blob.c) !== JSON.stringify(input.EncryptionContext))
        throw Object.assign(new Error("context mismatch"), { name: "InvalidCiphertextException" });
      return { Plaintext: Buffer.from(blob.p, "hex") };
    });
  return kms;
}

describe("data keys wrapped by KMS (secrets.md §2)", () => {
  afterEach(() => mockClient(KMSClient).restore());

  it("wraps with the key and the workspace's context, and unwraps only with the same context", async () => {
    const kms = fakeKms();
    const wrapper = kmsKeyWrapper("alias/berth-secrets");
    const wrapped = await wrapper.wrap("berth-datakey-v1|ws|k1", Buffer.alloc(32, 7));
    expect(kms.commandCalls(EncryptCommand)[0]!.args[0].input).toMatchObject({
      KeyId: "alias/berth-secrets",
      EncryptionContext: { berth: "berth-datakey-v1|ws|k1" },
    });
    expect((await wrapper.unwrap("berth-datakey-v1|ws|k1", wrapped)).equals(Buffer.alloc(32, 7))).toBe(true);
    await expect(wrapper.unwrap("berth-datakey-v1|other|k1", wrapped)).rejects.toMatchObject({
      code: "Unavailable",
      message: expect.stringContaining("KMS refused to unwrap a data key (InvalidCiphertextException)"),
    });
  });

  it("serves secrets through KMS when BERTH_KMS_KEY_ID is set; KMS down is a 503 and nothing is stored", async () => {
    const kms = fakeKms();
    const t = await testApp({ config: { kmsKeyId: "alias/berth-secrets" } });
    const create = (name: string) =>
      t.call("POST", "/api/v1/namespaces/default/secrets", {
        token: t.admin,
        body: { name, type: "Environment", data: "via-kms-value" },
      });
    expect((await create("a")).status).toBe(201);
    expect(kms.commandCalls(EncryptCommand)).toHaveLength(1);
    const other = await testApp({ config: { kmsKeyId: "alias/berth-secrets" } });
    kms.reset();
    kms.on(EncryptCommand).rejects(Object.assign(new Error("down"), { name: "KMSInternalException" }));
    const before = await snapshot(other.db);
    const res = await other.call("POST", "/api/v1/namespaces/default/secrets", {
      token: other.admin,
      body: { name: "b", type: "Environment", data: "v" },
    });
    expect(await errorOf(res)).toMatchObject({ status: 503, code: "Unavailable" });
    expect(res.headers.get("retry-after")).toBe("5");
    expect(await snapshot(other.db)).toBe(before);
  });
});
