import { conflict, notFound } from "../../domain/errors.ts";
import { NodeGroup } from "../../domain/node-group.ts";
import type { NodeGroupRepository } from "../../ports/repositories.ts";
import { c, type Store } from "../../ports/store.ts";
import { createOnly, itemOf, parseItem, patchChanges, queryPage, write } from "./base.ts";
import { keys } from "./keys.ts";

const parse = (item: Record<string, unknown>) => parseItem(NodeGroup, "node group", item);

export function nodeGroupRepository(store: Store): NodeGroupRepository {
  const missing = (name: string) => notFound(`node group ${name} not found`);
  return {
    async get(workspaceId, name) {
      const item = await store.get(keys.nodeGroup(workspaceId, name));
      return item ? parse(item) : undefined;
    },
    // Two creates of one name: the name is the key, so exactly one wins.
    create: (group) =>
      createOnly(
        store,
        `node group ${group.name}`,
        itemOf(keys.nodeGroup(group.workspaceId, group.name), group, {
          gsi1pk: keys.nodeGroupId(group.id),
          gsi1sk: "NODEGROUP",
        }),
      ),
    async getById(id) {
      const out = await store.query({ index: "gsi1", partition: keys.nodeGroupId(id), limit: 1 });
      return out.items[0] ? parse(out.items[0]) : undefined;
    },
    list: (workspaceId, page) =>
      queryPage(
        store,
        { partition: keys.workspace(workspaceId).pk, range: { prefix: keys.nodeGroupsPrefix } },
        parse,
        page,
      ),
    async update(workspaceId, name, patch, at) {
      // A delete racing the update must not resurrect the group.
      const out = await store.update(
        keys.nodeGroup(workspaceId, name),
        patchChanges({ ...patch, updatedAt: at }),
        {
          if: c.exists(),
        },
      );
      if (!out.ok) throw missing(name);
      return parse(out.item);
    },
    async delete(workspaceId, name) {
      // A device joining while the group is deleted: join needs the item, delete needs a zero count,
      // so either the device joins and the delete is refused, or the delete wins and the join fails.
      const out = await store.delete(keys.nodeGroup(workspaceId, name), {
        if: c.and(c.exists(), c.eq("deviceCount", 0)),
      });
      if (out.ok) return;
      if (!out.current) throw missing(name);
      const count = Number(out.current.deviceCount);
      throw conflict(`node group ${name} still has ${count} device(s); delete or move them first`, {
        deviceCount: count,
      });
    },
    // See delete: a join never lands in a group that is being deleted.
    join: (workspaceId, name) =>
      write(`join node group ${name}`, {
        update: keys.nodeGroup(workspaceId, name),
        changes: { add: { deviceCount: 1 } },
        if: c.exists(),
      }),
    // Never below zero, never recreating a deleted group.
    leave: (workspaceId, name) =>
      write(`leave node group ${name}`, {
        update: keys.nodeGroup(workspaceId, name),
        changes: { add: { deviceCount: -1 } },
        if: c.and(c.exists(), c.gt("deviceCount", 0)),
      }),
  };
}
