import type { ApiKey } from "../domain/api-key.ts";
import type { Workspace } from "../domain/workspace.ts";
import type { Page, PageRequest } from "./pagination.ts";

/**
 * Persistence ports. Every implementation must pass test/contract/repositories.contract.ts.
 * Reads of a single object by id are strongly consistent; lists may lag writes by a moment.
 * Methods throw BerthError(Conflict | NotFound) for the documented races and StorageError otherwise.
 */

export interface WorkspaceRepository {
  get(id: string): Promise<Workspace | undefined>;
  /** Creates the workspace; throws Conflict when it exists. */
  create(workspace: Workspace): Promise<void>;
}

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

export interface Repositories {
  workspaces: WorkspaceRepository;
  apiKeys: ApiKeyRepository;
}
