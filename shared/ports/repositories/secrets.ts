import type { Secret, SecretType } from "../../domain/secret.ts";
import type { Page, PageRequest } from "../pagination.ts";
import type { Write } from "./write.ts";

export interface SecretRepository {
  get(workspaceId: string, namespace: string, name: string): Promise<Secret | undefined>;
  /**
   * Stores a new secret (fails when the name is taken in its namespace), committed with the namespace's and the
   * quota's counts.
   */
  create(secret: Secret): Write;
  /**
   * Replaces `current` with `next` if it is still at `current.revision` (next has revision + 1): the stored
   * secret afterwards, or undefined when another change came first (read again and decide again).
   */
  replace(current: Secret, next: Secret): Promise<Secret | undefined>;
  /** A write that fails unless the secret exists (of `type`, when given): to commit with what relies on it. */
  check(workspaceId: string, namespace: string, name: string, type?: SecretType): Write;
  /** Deletes it (fails when there is none), committed with the namespace's and the quota's counts. */
  delete(workspaceId: string, namespace: string, name: string): Write;
  /** A namespace's secrets by name (of one type, when given: pages are full either way). */
  list(workspaceId: string, namespace: string, page: PageRequest, type?: SecretType): Promise<Page<Secret>>;
}
