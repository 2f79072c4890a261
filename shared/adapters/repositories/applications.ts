import { Application, Deployment, type DeploymentCounts, NO_COUNTS } from "../../domain/application.ts";
import type { ApplicationRepository, DeploymentRepository } from "../../ports/repositories.ts";
import { c, type Store } from "../../ports/store.ts";
import { createWrite, itemOf, parseEach, parseItem, queryAll, queryPage, write } from "./base.ts";
import { ALL_SHARDS, keys, shardOf, ttlOf } from "./keys.ts";

const parseApp = (item: Record<string, unknown>) => parseItem(Application, "application", item);
const parseDeployment = (item: Record<string, unknown>) => parseItem(Deployment, "deployment", item);

/** An application's item, in its namespace's list (by name) and in its shard of every application. */
const appItem = (app: Application) =>
  itemOf(keys.application(app.id), app, {
    gsi1pk: keys.applicationsOf(app.workspaceId),
    gsi1sk: `${app.namespace}#${app.name}`,
    gsi2pk: keys.applicationShard(shardOf(app.id)),
    gsi2sk: app.id,
  });

/** Applications (`APP#<id>` / `APP`), their names per namespace, and their deployments (`APP#<id>` / `DEP#<device>`). */
export function applicationRepository(store: Store): ApplicationRepository {
  const get = async (id: string) => {
    const item = await store.get(keys.application(id));
    return item ? parseApp(item) : undefined;
  };
  return {
    get,
    async byName(ws, ns, name) {
      const pointer = await store.get(keys.applicationName(ws, ns, name));
      return typeof pointer?.applicationId === "string" ? get(pointer.applicationId) : undefined;
    },
    // Two creates of one name: the name pointer is put only if absent, in the same transaction.
    create: (app) =>
      write(`application ${app.name}`, ...createWrite(`application ${app.name}`, appItem(app)).ops, {
        put: itemOf(keys.applicationName(app.workspaceId, app.namespace, app.name), {
          applicationId: app.id,
        }),
        if: c.absent(),
      }),
    replace: (current, next) =>
      write(`application ${current.name}`, { put: appItem(next), if: c.eq("revision", current.revision) }),
    delete: (current) =>
      write(
        `application ${current.name}`,
        { delete: keys.application(current.id), if: c.eq("revision", current.revision) },
        {
          delete: keys.applicationName(current.workspaceId, current.namespace, current.name),
          if: c.eq("applicationId", current.id),
        },
      ),
    list: (ws, ns, page) =>
      queryPage(
        store,
        { index: "gsi1", partition: keys.applicationsOf(ws), range: { prefix: `${ns}#` } },
        parseApp,
        page,
      ),
    async ofWorkspace(ws) {
      const items = await queryAll(store, { index: "gsi1", partition: keys.applicationsOf(ws) });
      return parseEach(store, items, parseApp);
    },
    async all() {
      const shards = await Promise.all(
        ALL_SHARDS.map((shard) =>
          queryAll(store, { index: "gsi2", partition: keys.applicationShard(shard) }),
        ),
      );
      return parseEach(store, shards.flat(), parseApp);
    },
    async markDirty(id, at) {
      await store.update(keys.applicationDirty(id), {
        add: { n: 1 },
        set: { at, applicationId: id, gsi2pk: keys.applicationQueue(shardOf(id)), gsi2sk: id },
      });
    },
    async dirty(limit) {
      const out: { id: string; n: number; at: string }[] = [];
      for (const shard of ALL_SHARDS) {
        if (out.length >= limit) break;
        const page = await store.query({
          index: "gsi2",
          partition: keys.applicationQueue(shard),
          limit: limit - out.length,
        });
        for (const item of page.items)
          out.push({ id: String(item.applicationId), n: Number(item.n), at: String(item.at) });
      }
      return out;
    },
    async clean(id, n) {
      await store.delete(keys.applicationDirty(id), { if: c.eq("n", n) });
    },
    async mark(id) {
      const item = await store.get(keys.applicationDirty(id));
      return item ? { n: Number(item.n), at: String(item.at) } : undefined;
    },
    claimPass: (id, now, ms) => lease(store, keys.applicationPass(id), now, ms),
    async releasePass(id, until) {
      await store.delete(keys.applicationPass(id), { if: c.eq("until", until) });
    },
    claimFullPass: async (now, ms) => (await lease(store, keys.applicationsFullPass, now, ms)) !== undefined,
  };
}

/** A lease on `key` until `now + ms` (its end), taken only when none is held; undefined when one is. */
async function lease(store: Store, key: { pk: string; sk: string }, now: Date, ms: number) {
  const until = new Date(now.getTime() + ms).toISOString();
  const out = await store.update(
    key,
    // Garbage once long run out (an application deleted leaves its lease behind).
    { set: { until, ttl: ttlOf(now.toISOString(), 1) } },
    { if: c.or(c.absent("until"), c.le("until", now.toISOString())) },
  );
  return out.ok ? until : undefined;
}

const deploymentItem = (d: Deployment) =>
  itemOf(keys.deployment(d.applicationId, d.deviceId), d, {
    gsi1pk: keys.deploymentsOn(d.deviceId),
    gsi1sk: d.applicationId,
  });

export function deploymentRepository(store: Store): DeploymentRepository {
  return {
    async get(appId, deviceId) {
      const item = await store.get(keys.deployment(appId, deviceId));
      return item ? parseDeployment(item) : undefined;
    },
    async ofApplication(appId) {
      const items = await queryAll(store, {
        partition: keys.application(appId).pk,
        range: { prefix: keys.deploymentsPrefix },
      });
      return parseEach(store, items, parseDeployment);
    },
    async onDevice(deviceId) {
      const items = await queryAll(store, { index: "gsi1", partition: keys.deploymentsOn(deviceId) });
      return parseEach(store, items, parseDeployment);
    },
    // Two reconcilers on one (application, device): one creates it, the other's write fails.
    create: (d) => createWrite(`deployment of ${d.applicationId} on ${d.deviceId}`, deploymentItem(d)),
    replace: (current, next) =>
      write(`deployment of ${current.applicationId} on ${current.deviceId}`, {
        put: deploymentItem(next),
        if: c.eq("v", current.v),
      }),
    delete: (current) =>
      write(`deployment of ${current.applicationId} on ${current.deviceId}`, {
        delete: keys.deployment(current.applicationId, current.deviceId),
        if: c.eq("v", current.v),
      }),
    async counts(appId) {
      const item = await store.get(keys.deploymentCounts(appId));
      return item ? countsItem(item) : { ...NO_COUNTS };
    },
    async countsOf(appIds) {
      const items = await store.getMany(appIds.map((id) => keys.deploymentCounts(id)));
      return new Map(items.map((item) => [String(item.applicationId), countsItem(item)]));
    },
    count: (appId, delta) =>
      write(`the deployment counts of ${appId}`, {
        update: keys.deploymentCounts(appId),
        changes: { add: { ...delta }, set: { applicationId: appId } },
      }),
    recount: (appId, counts, read) =>
      write(`the deployment counts of ${appId}`, {
        update: keys.deploymentCounts(appId),
        changes: { set: { ...counts, applicationId: appId } },
        // A field never moved is absent (it reads as 0).
        ...(read
          ? {
              if: c.and(
                ...Object.entries(read).map(([k, v]) =>
                  v === 0 ? c.or(c.absent(k), c.eq(k, 0)) : c.eq(k, v),
                ),
              ),
            }
          : {}),
      }),
    dropCounts: (appId) =>
      write(`the deployment counts of ${appId}`, { delete: keys.deploymentCounts(appId) }),
  };
}

/** Counts as stored (a field never moved is 0). */
const countsItem = (item: Record<string, unknown>): DeploymentCounts =>
  Object.fromEntries(
    Object.keys(NO_COUNTS).map((k) => [k, typeof item[k] === "number" ? (item[k] as number) : 0]),
  ) as DeploymentCounts;
