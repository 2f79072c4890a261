import { unavailable } from "../../domain/errors.ts";
import type { KeyWrapper } from "../../ports/keyring.ts";

type Kms = typeof import("@aws-sdk/client-kms");

/**
 * Data keys wrapped by a KMS key (AWS: one per stage, infra/secrets.ts): `Encrypt`/`Decrypt` with the
 * wrapped key's workspace and id as the encryption context, so a wrapped key moved to another workspace does
 * not unwrap. KMS unreachable or refusing: 503 Unavailable (nothing is stored without its key). The SDK is
 * loaded on first use: hosts without KMS never load it.
 */
export function kmsKeyWrapper(keyId: string): KeyWrapper {
  let kms: Promise<{ sdk: Kms; client: InstanceType<Kms["KMSClient"]> }> | undefined;
  const client = () => {
    kms ??= import("@aws-sdk/client-kms").then((sdk) => ({ sdk, client: new sdk.KMSClient({}) }));
    return kms;
  };
  const context = (c: string) => ({ berth: c });
  return {
    async wrap(c, key) {
      const { sdk, client: k } = await client();
      try {
        const out = await k.send(
          new sdk.EncryptCommand({ KeyId: keyId, Plaintext: key, EncryptionContext: context(c) }),
        );
        return Buffer.from(out.CiphertextBlob!).toString("base64");
      } catch (err) {
        throw unavailable(`KMS refused to wrap a data key (${(err as Error).name}); try again`);
      }
    },
    async unwrap(c, wrapped) {
      const { sdk, client: k } = await client();
      try {
        const out = await k.send(
          new sdk.DecryptCommand({
            KeyId: keyId,
            CiphertextBlob: Buffer.from(wrapped, "base64"),
            EncryptionContext: context(c),
          }),
        );
        return Buffer.from(out.Plaintext!);
      } catch (err) {
        throw unavailable(`KMS refused to unwrap a data key (${(err as Error).name}); try again`);
      }
    },
  };
}
