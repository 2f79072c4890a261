import { z } from "zod";
import { COUNTED, countLimit, type QuotaState } from "../../domain/quota.ts";
import type { QuotaRepository } from "../../ports/repositories.ts";
import { type Cond, c, type Store } from "../../ports/store.ts";
import { parseItem, write } from "./base.ts";
import { keys } from "./keys.ts";

const Item = z.object({
  maxGpus: z.number().int().optional(),
  maxRunningJobs: z.number().int().optional(),
  maxSecrets: z.number().int().optional(),
  maxNamespaces: z.number().int().optional(),
  maxApplications: z.number().int().optional(),
  usedGpus: z.number().int().default(0),
  usedJobs: z.number().int().default(0),
  usedSecrets: z.number().int().default(0),
  usedNamespaces: z.number().int().default(0),
  usedApplications: z.number().int().default(0),
});

const state = (item: z.infer<typeof Item>): QuotaState => ({
  limits: {
    maxGpus: item.maxGpus,
    maxRunningJobs: item.maxRunningJobs,
    maxSecrets: item.maxSecrets,
    maxNamespaces: item.maxNamespaces,
    maxApplications: item.maxApplications,
  },
  used: {
    gpus: item.usedGpus,
    runningJobs: item.usedJobs,
    secrets: Math.max(0, item.usedSecrets),
    namespaces: Math.max(0, item.usedNamespaces),
    applications: Math.max(0, item.usedApplications),
  },
});

/**
 * One item per workspace: limits and the use counted against them. Conditions cannot add, so taking quota
 * computes the room left (limit − asked) from a read, and the condition also checks that the limit is still
 * the one read: a limit changed in between makes the caller read again.
 */
export function quotaRepository(store: Store): QuotaRepository {
  return {
    async get(workspaceId) {
      return state(
        parseItem(Item, "quota", (await store.get(keys.quota(workspaceId))) ?? { pk: "", sk: "" }),
      );
    },
    async setLimits(workspaceId, limits) {
      const set: Record<string, unknown> = {};
      const remove: string[] = [];
      for (const name of [
        "maxGpus",
        "maxRunningJobs",
        "maxSecrets",
        "maxNamespaces",
        "maxApplications",
      ] as const) {
        const v = limits[name];
        if (v === null) remove.push(name);
        else if (v !== undefined) set[name] = v;
      }
      // add 0 creates the counters when they are missing and leaves them alone otherwise.
      const out = await store.update(keys.quota(workspaceId), {
        set,
        remove,
        add: { usedGpus: 0, usedJobs: 0 },
      });
      return state(parseItem(Item, "quota", out.ok ? out.item : {}));
    },
    take(workspaceId, read, gpus) {
      const guard = (
        limit: "maxGpus" | "maxRunningJobs",
        used: "usedGpus" | "usedJobs",
        asked: number,
      ): Cond => {
        const value = read.limits[limit];
        return value === undefined
          ? c.absent(limit)
          : c.and(c.eq(limit, value), c.or(c.absent(used), c.le(used, value - asked)));
      };
      // Concurrent submits: each takes its share only if it still fits under an unchanged limit.
      return write(`take quota of workspace ${workspaceId}`, {
        update: keys.quota(workspaceId),
        changes: { add: { usedGpus: gpus, usedJobs: 1 } },
        if: c.and(guard("maxGpus", "usedGpus", gpus), guard("maxRunningJobs", "usedJobs", 1)),
      });
    },
    // Concurrent creates: each counts its object only under the limit read, and only while it is that limit.
    takeCount(workspaceId, read, kind) {
      const { limit, used } = COUNTED[kind];
      const value = read.limits[limit];
      const room = c.or(c.absent(used), c.le(used, countLimit(read, kind) - 1));
      return write(`the ${kind} quota of workspace ${workspaceId}`, {
        update: keys.quota(workspaceId),
        changes: { add: { [used]: 1 } },
        if: c.and(value === undefined ? c.absent(limit) : c.eq(limit, value), room),
      });
    },
    // Never below zero: the caller of a delete that finds nothing counted (an object stored before counts
    // were kept) deletes without it.
    giveCount: (workspaceId, kind) =>
      write(`the ${kind} quota of workspace ${workspaceId}`, {
        update: keys.quota(workspaceId),
        changes: { add: { [COUNTED[kind].used]: -1 } },
        if: c.ge(COUNTED[kind].used, 1),
      }),
    // Never below zero: a give without a matching take (a bug, a restore) fails instead.
    give: (workspaceId, gpus) =>
      write(`give back quota of workspace ${workspaceId}`, {
        update: keys.quota(workspaceId),
        changes: { add: { usedGpus: -gpus, usedJobs: -1 } },
        if: c.and(c.ge("usedJobs", 1), c.ge("usedGpus", gpus)),
      }),
  };
}
