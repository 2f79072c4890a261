import type { Namespace } from "../../domain/namespace.ts";
import type { Page, PageRequest } from "../pagination.ts";
import type { Write } from "./write.ts";

export interface NamespaceRepository {
  get(workspaceId: string, name: string): Promise<Namespace | undefined>;
  /** Stores a new namespace (fails when the name is taken), committed with the quota's count. */
  create(ns: Namespace): Write;
  /**
   * Replaces `current` with `next` (description, config, status) if it is still at `current.revision` and its
   * counts are unchanged: the stored namespace, or undefined when another change came first.
   */
  replace(current: Namespace, next: Namespace): Promise<Namespace | undefined>;
  /** `replace` as a write, to commit with others (the namespace is read again afterwards). */
  replaceWrite(current: Namespace, next: Namespace): Write;
  list(workspaceId: string, page: PageRequest): Promise<Page<Namespace>>;
  /** Namespaces of every workspace being deleted (the sweeper finishes them). */
  deleting(limit: number): Promise<Namespace[]>;
  /**
   * Deletes a namespace that is `deleting` and empty (fails otherwise: something is left in it, or it is gone),
   * committed with the quota's count.
   */
  deleteEmpty(workspaceId: string, name: string): Write;
  /**
   * Counts a secret in (+1: fails unless the namespace exists and is `active`) or out (-1: fails unless the
   * namespace exists), in the transaction that creates or deletes the secret.
   */
  countSecret(workspaceId: string, name: string, delta: 1 | -1, guard?: NamespaceGuard): Write;
  /** Counts an application in (+1: only into an `active` namespace) or out (-1: never below zero). */
  countApplication(workspaceId: string, name: string, delta: 1 | -1): Write;
  /** Only checks the guard (no count): a write that fails when the namespace no longer is what was read. */
  check(workspaceId: string, name: string, guard: NamespaceGuard): Write;
}

/**
 * What a write out of a namespace requires of it, beyond existing: still at the revision read (its config
 * was checked), or still the deletion being swept (`deletingId`: that namespace, not a new one of its name);
 * `counted`: its secret count is at least 1 (never below zero).
 */
export interface NamespaceGuard {
  revision?: number;
  deletingId?: string;
  counted?: boolean;
}
