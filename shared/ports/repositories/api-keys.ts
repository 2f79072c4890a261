import type { ApiKey } from "../../domain/api-key.ts";
import type { Page, PageRequest } from "../pagination.ts";

export interface ApiKeyRepository {
  /** Creates the key; throws Conflict when the id is taken. */
  create(key: ApiKey): Promise<void>;
  /** The key with that id in any workspace (authentication looks keys up by the id in the token). */
  get(id: string): Promise<ApiKey | undefined>;
  /** Keys of a workspace, oldest first; revoked keys only when asked for. */
  list(workspaceId: string, page: PageRequest, opts?: { includeRevoked?: boolean }): Promise<Page<ApiKey>>;
  /**
   * Marks the key revoked. Returns false when it was already revoked (nothing written);
   * throws NotFound when it does not exist in that workspace.
   */
  revoke(workspaceId: string, id: string, at: string): Promise<boolean>;
  /** Records use, at most once per `resolutionMs`; never fails the caller's request. */
  touch(id: string, at: string, resolutionMs: number): Promise<void>;
}
