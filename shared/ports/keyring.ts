/**
 * The key-encryption key, behind one port (specs/secrets.md §2): locally a key derived from the server secret,
 * on AWS a KMS key. `context` binds a wrapped key to its workspace and id (AAD; KMS: the encryption context).
 */
export interface KeyWrapper {
  wrap(context: string, key: Buffer): Promise<string>;
  /** Throws when `wrapped` was made under another key-encryption key or context. */
  unwrap(context: string, wrapped: string): Promise<Buffer>;
}

/** The data keys secrets are encrypted with: one current key per workspace, made on first use. */
export interface SecretKeyring {
  current(workspaceId: string): Promise<{ keyId: string; key: Buffer }>;
  /** A key by the id a ciphertext names. */
  get(workspaceId: string, keyId: string): Promise<Buffer>;
}
