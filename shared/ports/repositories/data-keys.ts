/** A workspace's data key for secrets, as stored: only wrapped (specs/secrets.md §2). */
export interface StoredDataKey {
  workspaceId: string;
  keyId: string;
  /** The key, encrypted by the key-encryption key (local: derived from the server secret; AWS: KMS). */
  wrapped: string;
  createdAt: string;
}

export interface DataKeyRepository {
  get(workspaceId: string, keyId: string): Promise<StoredDataKey | undefined>;
  /** Stores a new data key; false when one with that id exists already (another process made it first). */
  create(key: StoredDataKey): Promise<boolean>;
}
