import type { ApiKeyView, CreateApiKeyRequest } from "../../contracts/api-keys.ts";
import type { ApiKey } from "../../domain/api-key.ts";
import { invalidRequest, notFound } from "../../domain/errors.ts";
import { newId } from "../../domain/ids.ts";
import type { UserPrincipal } from "../../domain/principal.ts";
import { hashToken, newToken, tokenPrefix } from "../../domain/tokens.ts";
import type { Clock } from "../../ports/clock.ts";
import type { Page, PageRequest } from "../../ports/pagination.ts";
import type { Repositories } from "../../ports/repositories.ts";

type Deps = { repos: Repositories; clock: Clock };

export const apiKeyView = (key: ApiKey): ApiKeyView => ({
  id: key.id,
  prefix: tokenPrefix("apiKey", key.id),
  name: key.name,
  role: key.role,
  createdAt: key.createdAt,
  lastUsedAt: key.lastUsedAt,
  expiresAt: key.expiresAt,
  revokedAt: key.revokedAt,
});

/**
 * Creates an API key in the caller's workspace and returns its secret, which is not stored and
 * cannot be shown again. Throws InvalidRequest for an expiry that is not in the future.
 */
export async function createApiKey(
  deps: Deps,
  workspaceId: string,
  input: CreateApiKeyRequest,
): Promise<{ view: ApiKeyView; token: string }> {
  const now = deps.clock.now();
  let expiresAt: string | undefined;
  if (input.expiresAt) {
    const at = new Date(input.expiresAt);
    if (at.getTime() <= now.getTime()) {
      throw invalidRequest("expiresAt must be in the future", [
        { path: "expiresAt", message: "is in the past" },
      ]);
    }
    expiresAt = at.toISOString();
  }
  const id = newId(now.getTime());
  const token = newToken("apiKey", id);
  const key: ApiKey = {
    id,
    workspaceId,
    name: input.name,
    role: input.role,
    tokenHash: hashToken(token),
    createdAt: now.toISOString(),
    expiresAt,
  };
  await deps.repos.apiKeys.create(key);
  return { view: apiKeyView(key), token };
}

export async function listApiKeys(
  deps: Deps,
  principal: UserPrincipal,
  page: PageRequest,
  includeRevoked: boolean,
): Promise<Page<ApiKeyView>> {
  const result = await deps.repos.apiKeys.list(principal.workspaceId, page, { includeRevoked });
  return { items: result.items.map(apiKeyView), cursor: result.cursor };
}

/** A key of the caller's workspace; another workspace's key is NotFound, as if it did not exist. */
export async function getApiKey(deps: Deps, principal: UserPrincipal, id: string): Promise<ApiKeyView> {
  const key = await deps.repos.apiKeys.get(id);
  if (!key || key.workspaceId !== principal.workspaceId) throw notFound(`api key ${id} not found`);
  return apiKeyView(key);
}

/** Revokes a key of the caller's workspace. Revoking a revoked key changes nothing and succeeds. */
export async function revokeApiKey(deps: Deps, principal: UserPrincipal, id: string): Promise<void> {
  await deps.repos.apiKeys.revoke(principal.workspaceId, id, deps.clock.now().toISOString());
}
