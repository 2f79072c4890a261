import { decrypt, encrypt } from "../../domain/secret-envelope.ts";
import type { KeyWrapper } from "../../ports/keyring.ts";

/**
 * The local key-encryption key: derived from the server secret (HKDF purpose `secrets-kek`, as every other
 * purpose key), so losing the server secret loses every secret value, and nothing new needs keeping.
 */
export function localKeyWrapper(kek: Buffer): KeyWrapper {
  return {
    wrap: async (context, key) => encrypt(kek, key, context),
    unwrap: async (context, wrapped) => decrypt(kek, wrapped, context),
  };
}
