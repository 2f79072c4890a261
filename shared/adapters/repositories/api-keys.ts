import { ApiKey } from "../../domain/api-key.ts";
import { notFound } from "../../domain/errors.ts";
import type { ApiKeyRepository } from "../../ports/repositories.ts";
import { c, type Store } from "../../ports/store.ts";
import { createOnly, itemOf, parseItem, queryPage } from "./base.ts";
import { keys } from "./keys.ts";

const parse = (item: Record<string, unknown>) => parseItem(ApiKey, "api key", item);

export function apiKeyRepository(store: Store): ApiKeyRepository {
  const get = async (id: string) => {
    const item = await store.get(keys.apiKey(id));
    return item ? parse(item) : undefined;
  };
  return {
    get,
    // Id collision (astronomically unlikely, but never overwrite a key).
    create: (key) =>
      createOnly(
        store,
        `api key ${key.id}`,
        itemOf(keys.apiKey(key.id), key, { gsi1pk: keys.apiKeysOf(key.workspaceId), gsi1sk: key.id }),
      ),
    list(workspaceId, page, opts) {
      return queryPage(
        store,
        { index: "gsi1", partition: keys.apiKeysOf(workspaceId) },
        (item) => {
          const key = parse(item);
          return key.revokedAt && !opts?.includeRevoked ? undefined : key;
        },
        page,
      );
    },
    async revoke(workspaceId, id, at) {
      // Revoke racing revoke, or a revoke of another workspace's key: only a live key of this workspace changes.
      const out = await store.update(
        keys.apiKey(id),
        { set: { revokedAt: at } },
        { if: c.and(c.exists(), c.eq("workspaceId", workspaceId), c.absent("revokedAt")) },
      );
      if (out.ok) return true;
      if (!out.current || out.current.workspaceId !== workspaceId) throw notFound(`api key ${id} not found`);
      return false;
    },
    async touch(id, at, resolutionMs) {
      const threshold = new Date(Date.parse(at) - resolutionMs).toISOString();
      // Many requests with one key at once: at most one of them writes per resolution window.
      await store.update(
        keys.apiKey(id),
        { set: { lastUsedAt: at } },
        { if: c.and(c.exists(), c.or(c.absent("lastUsedAt"), c.lt("lastUsedAt", threshold))) },
      );
    },
  };
}
