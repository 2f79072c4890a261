import { Namespace } from "../../domain/namespace.ts";
import type { NamespaceRepository } from "../../ports/repositories.ts";
import { c, type Store } from "../../ports/store.ts";
import { createWrite, itemOf, parseEach, parseItem, queryPage, write } from "./base.ts";
import { keys } from "./keys.ts";

const parse = (item: Record<string, unknown>) => parseItem(Namespace, "namespace", item);

/** While a namespace is being deleted it is in the sweeper's index partition. */
const deletingIndex = (ns: Namespace) =>
  ns.status === "deleting"
    ? { gsi1pk: keys.namespacesDeleting, gsi1sk: `${ns.workspaceId}#${ns.name}` }
    : undefined;

/** Namespaces, in their workspace's partition (`WS#<ws>` / `NS#<name>`), with the counts of what is in them. */
export function namespaceRepository(store: Store): NamespaceRepository {
  return {
    async get(ws, name) {
      const item = await store.get(keys.namespace(ws, name));
      return item ? parse(item) : undefined;
    },
    // Create vs create of one name: the name is the key, so one is stored and the other refused.
    create: (ns) =>
      createWrite(
        `namespace ${ns.name}`,
        itemOf(keys.namespace(ns.workspaceId, ns.name), ns, deletingIndex(ns)),
      ),
    // An update, not a put: secrets counted in meanwhile keep their count. Two changes at once: the revision.
    async replace(current, next) {
      const index = deletingIndex(next);
      const out = await store.update(
        keys.namespace(current.workspaceId, current.name),
        {
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
        { if: c.eq("revision", current.revision) },
      );
      return out.ok ? parse(out.item) : undefined;
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
    countSecret: (ws, name, delta) =>
      write(`namespace ${name}`, {
        update: keys.namespace(ws, name),
        changes: { add: { secretCount: delta } },
        if: delta > 0 ? c.eq("status", "active") : c.exists(),
      }),
  };
}
