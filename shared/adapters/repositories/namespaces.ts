import { Namespace } from "../../domain/namespace.ts";
import type { NamespaceGuard, NamespaceRepository } from "../../ports/repositories.ts";
import { type Cond, c, type Store } from "../../ports/store.ts";
import { commitWrites, createWrite, itemOf, parseEach, parseItem, queryPage, write } from "./base.ts";
import { keys } from "./keys.ts";

const parse = (item: Record<string, unknown>) => parseItem(Namespace, "namespace", item);

/** While a namespace is being deleted it is in the sweeper's index partition. */
const deletingIndex = (ns: Namespace) =>
  ns.status === "deleting"
    ? { gsi1pk: keys.namespacesDeleting, gsi1sk: `${ns.workspaceId}#${ns.name}` }
    : undefined;

/** The condition of a NamespaceGuard (always: the namespace exists). */
function guarded(guard: NamespaceGuard = {}): Cond {
  return c.and(
    c.exists(),
    guard.revision === undefined ? undefined : c.eq("revision", guard.revision),
    guard.deletingId === undefined
      ? undefined
      : c.and(c.eq("status", "deleting"), c.eq("id", guard.deletingId)),
    guard.counted ? c.ge("secretCount", 1) : undefined,
  );
}

/** Namespaces, in their workspace's partition (`WS#<ws>` / `NS#<name>`), with the counts of what is in them. */
export function namespaceRepository(store: Store): NamespaceRepository {
  const get = async (ws: string, name: string) => {
    const item = await store.get(keys.namespace(ws, name));
    return item ? parse(item) : undefined;
  };
  // An update, not a put: secrets counted in meanwhile keep their count. Two changes at once: the revision.
  const replaceWrite = (current: Namespace, next: Namespace) => {
    const index = deletingIndex(next);
    return write(`namespace ${current.name}`, {
      update: keys.namespace(current.workspaceId, current.name),
      changes: {
        set: {
          description: next.description,
          config: next.config,
          status: next.status,
          revision: next.revision,
          updatedAt: next.updatedAt,
          ...index,
        },
        remove: index ? [] : ["gsi1pk", "gsi1sk"],
      },
      if: c.eq("revision", current.revision),
    });
  };
  return {
    get,
    // Create vs create of one name: the name is the key, so one is stored and the other refused.
    create: (ns) =>
      createWrite(
        `namespace ${ns.name}`,
        itemOf(keys.namespace(ns.workspaceId, ns.name), ns, deletingIndex(ns)),
      ),
    replaceWrite,
    async replace(current, next) {
      const out = await commitWrites(store, [replaceWrite(current, next)]);
      return out.ok ? get(current.workspaceId, current.name) : undefined;
    },
    list: (ws, page) =>
      queryPage(
        store,
        { partition: keys.workspace(ws).pk, range: { prefix: keys.namespacesPrefix } },
        parse,
        page,
      ),
    async deleting(limit) {
      const out = await store.query({ index: "gsi1", partition: keys.namespacesDeleting, limit });
      return parseEach(store, out.items, parse);
    },
    // Anything created in it meanwhile was refused (it is deleting) or counted (so this waits for its sweep).
    deleteEmpty: (ws, name) =>
      write(`namespace ${name}`, {
        delete: keys.namespace(ws, name),
        if: c.and(
          c.eq("status", "deleting"),
          c.or(c.absent("secretCount"), c.eq("secretCount", 0)),
          c.or(c.absent("applicationCount"), c.eq("applicationCount", 0)),
        ),
      }),
    // A secret never lands in a namespace being deleted; a count never recreates a deleted namespace.
    countSecret: (ws, name, delta, guard) =>
      write(`namespace ${name}`, {
        update: keys.namespace(ws, name),
        changes: { add: { secretCount: delta } },
        if: delta > 0 ? c.and(c.eq("status", "active"), guarded(guard)) : guarded(guard),
      }),
    countApplication: (ws, name, delta) =>
      write(`namespace ${name}`, {
        update: keys.namespace(ws, name),
        changes: { add: { applicationCount: delta } },
        if: delta > 0 ? c.eq("status", "active") : c.and(c.exists(), c.ge("applicationCount", 1)),
      }),
    check: (ws, name, guard) =>
      write(`namespace ${name}`, {
        check: keys.namespace(ws, name),
        if: guarded({ ...guard, counted: false }),
      }),
  };
}
