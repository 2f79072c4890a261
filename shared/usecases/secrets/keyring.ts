import { dataKeyAad, newDataKey } from "../../domain/secret-envelope.ts";
import type { Clock } from "../../ports/clock.ts";
import type { KeyWrapper, SecretKeyring } from "../../ports/keyring.ts";
import type { DataKeyRepository } from "../../ports/repositories/data-keys.ts";

/** The id of a workspace's first data key (rotation, out of scope, would add others and a pointer). */
export const FIRST_KEY_ID = "k1";

/** How long an unwrapped data key is kept in memory (on AWS: how long a revoked KMS key goes on working). */
export const DATA_KEY_CACHE_MS = 5 * 60_000;

/**
 * Workspaces' data keys: made on first use (32 random bytes, stored only wrapped), unwrapped on a cache miss
 * and kept for DATA_KEY_CACHE_MS. Two processes making a workspace's first key at once store one; the other
 * reads it back.
 */
export function secretKeyring(deps: {
  dataKeys: DataKeyRepository;
  wrapper: KeyWrapper;
  clock: Clock;
}): SecretKeyring {
  const cache = new Map<string, { key: Buffer; until: number }>();
  const cacheKey = (ws: string, keyId: string) => `${ws}\u0000${keyId}`;
  const remember = (ws: string, keyId: string, key: Buffer) => {
    cache.set(cacheKey(ws, keyId), { key, until: deps.clock.now().getTime() + DATA_KEY_CACHE_MS });
    return key;
  };
  const get = async (ws: string, keyId: string): Promise<Buffer | undefined> => {
    const hit = cache.get(cacheKey(ws, keyId));
    if (hit && hit.until > deps.clock.now().getTime()) return hit.key;
    const stored = await deps.dataKeys.get(ws, keyId);
    if (!stored) return undefined;
    return remember(ws, keyId, await deps.wrapper.unwrap(dataKeyAad(ws, keyId), stored.wrapped));
  };
  return {
    async current(ws) {
      const found = await get(ws, FIRST_KEY_ID);
      if (found) return { keyId: FIRST_KEY_ID, key: found };
      const key = newDataKey();
      const made = await deps.dataKeys.create({
        workspaceId: ws,
        keyId: FIRST_KEY_ID,
        wrapped: await deps.wrapper.wrap(dataKeyAad(ws, FIRST_KEY_ID), key),
        createdAt: deps.clock.now().toISOString(),
      });
      if (made) return { keyId: FIRST_KEY_ID, key: remember(ws, FIRST_KEY_ID, key) };
      const theirs = await get(ws, FIRST_KEY_ID);
      if (!theirs) throw new Error(`the data key of workspace ${ws} was made and is gone`);
      return { keyId: FIRST_KEY_ID, key: theirs };
    },
    async get(ws, keyId) {
      const key = await get(ws, keyId);
      if (!key) throw new Error(`workspace ${ws} has no data key ${keyId}`);
      return key;
    },
  };
}
