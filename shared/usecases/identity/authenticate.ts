import { LAST_USED_RESOLUTION_MS } from "../../domain/api-key.ts";
import { unauthorized } from "../../domain/errors.ts";
import type { UserPrincipal } from "../../domain/principal.ts";
import { tokenId, tokenMatches } from "../../domain/tokens.ts";
import type { Clock } from "../../ports/clock.ts";
import type { Logger } from "../../ports/logger.ts";
import type { Repositories } from "../../ports/repositories.ts";

type Deps = { repos: Repositories; clock: Clock; logger: Logger };

/**
 * Resolves an API key to its principal with one consistent read and a constant-time hash comparison.
 * Throws Unauthorized (with the reason) for a malformed, unknown, revoked or expired key. Writes nothing:
 * use is recorded by recordApiKeyUse once the request has succeeded.
 */
export async function authenticateApiKey(
  deps: Deps,
  token: string,
): Promise<{ principal: UserPrincipal; lastUsedAt: string | undefined }> {
  const id = tokenId("apiKey", token);
  if (!id) throw unauthorized("malformed API key: expected a key that starts with berth_sk_");
  const key = await deps.repos.apiKeys.get(id);
  if (!key || !tokenMatches(token, key.tokenHash)) throw unauthorized("unknown API key");
  if (key.revokedAt) throw unauthorized(`API key ${key.id} was revoked at ${key.revokedAt}`);
  if (key.expiresAt && Date.parse(key.expiresAt) <= deps.clock.now().getTime()) {
    throw unauthorized(`API key ${key.id} expired at ${key.expiresAt}`);
  }
  return {
    principal: { kind: "user", workspaceId: key.workspaceId, keyId: key.id, name: key.name, role: key.role },
    lastUsedAt: key.lastUsedAt,
  };
}

/** Records a key's use, at most once a minute per key; a failure is logged, never reported to the caller. */
export async function recordApiKeyUse(
  deps: Deps,
  keyId: string,
  lastUsedAt: string | undefined,
): Promise<void> {
  const now = deps.clock.now();
  if (lastUsedAt && now.getTime() - Date.parse(lastUsedAt) < LAST_USED_RESOLUTION_MS) return;
  await deps.repos.apiKeys.touch(keyId, now.toISOString(), LAST_USED_RESOLUTION_MS).catch((err: unknown) => {
    deps.logger.warn("could not record API key use", { keyId, error: String(err) });
  });
}
