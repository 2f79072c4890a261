import type {
  CreateRegistrationTokenRequest,
  RegistrationTokenView,
  UpdateRegistrationTokenRequest,
} from "../../contracts/registration-tokens.ts";
import { invalidRequest, notFound } from "../../domain/errors.ts";
import { newId } from "../../domain/ids.ts";
import type { RegistrationToken } from "../../domain/registration-token.ts";
import { hashToken, newToken, tokenPrefix } from "../../domain/tokens.ts";
import type { Clock } from "../../ports/clock.ts";
import type { Page, PageRequest } from "../../ports/pagination.ts";
import type { Repositories } from "../../ports/repositories.ts";

type Deps = { repos: Repositories; clock: Clock };

export const registrationTokenView = (t: RegistrationToken): RegistrationTokenView => ({
  id: t.id,
  prefix: tokenPrefix("registration", t.id),
  name: t.name,
  description: t.description,
  labels: t.labels,
  environmentVariables: t.environmentVariables,
  maxRegistrations: t.maxRegistrations,
  namingStrategy: t.namingStrategy,
  nodeGroup: t.nodeGroup,
  expiresAt: t.expiresAt,
  keylessRelogin: t.keylessRelogin ?? true,
  deviceCount: t.deviceCount,
  createdAt: t.createdAt,
  updatedAt: t.updatedAt,
});

function futureExpiry(now: Date, expiresAt: string): string {
  const at = new Date(expiresAt);
  if (at.getTime() <= now.getTime()) {
    throw invalidRequest("expiresAt must be in the future", [
      { path: "expiresAt", message: "is in the past" },
    ]);
  }
  return at.toISOString();
}

async function requireGroup(deps: Deps, workspaceId: string, name: string) {
  if (!(await deps.repos.nodeGroups.get(workspaceId, name))) {
    throw invalidRequest(`node group ${name} does not exist; create it first or leave nodeGroup out`, [
      { path: "nodeGroup", message: "no such node group" },
    ]);
  }
}

/** Creates a token; its secret is returned once and only its hash is stored. */
export async function createRegistrationToken(
  deps: Deps,
  workspaceId: string,
  input: CreateRegistrationTokenRequest,
): Promise<{ view: RegistrationTokenView; token: string }> {
  const now = deps.clock.now();
  const expiresAt = input.expiresAt ? futureExpiry(now, input.expiresAt) : undefined;
  if (input.nodeGroup) await requireGroup(deps, workspaceId, input.nodeGroup);
  const id = newId(now.getTime());
  const token = newToken("registration", id);
  const record: RegistrationToken = {
    id,
    workspaceId,
    name: input.name,
    description: input.description,
    labels: input.labels,
    environmentVariables: input.environmentVariables,
    maxRegistrations: input.maxRegistrations,
    namingStrategy: input.namingStrategy,
    nodeGroup: input.nodeGroup,
    expiresAt,
    keylessRelogin: input.keylessRelogin,
    tokenHash: hashToken(token),
    deviceCount: 0,
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
  };
  await deps.repos.registrationTokens.create(record);
  return { view: registrationTokenView(record), token };
}

export async function getRegistrationToken(
  deps: Deps,
  workspaceId: string,
  id: string,
): Promise<RegistrationTokenView> {
  const token = await deps.repos.registrationTokens.get(id);
  if (!token || token.workspaceId !== workspaceId) throw notFound(`registration token ${id} not found`);
  return registrationTokenView(token);
}

export async function listRegistrationTokens(
  deps: Deps,
  workspaceId: string,
  page: PageRequest,
): Promise<Page<RegistrationTokenView>> {
  const result = await deps.repos.registrationTokens.list(workspaceId, page);
  return { items: result.items.map(registrationTokenView), cursor: result.cursor };
}

/** Updates a token; devices already registered with it keep what they inherited. */
export async function updateRegistrationToken(
  deps: Deps,
  workspaceId: string,
  id: string,
  patch: UpdateRegistrationTokenRequest,
): Promise<RegistrationTokenView> {
  const now = deps.clock.now();
  await getRegistrationToken(deps, workspaceId, id);
  const expiresAt = patch.expiresAt ? futureExpiry(now, patch.expiresAt) : patch.expiresAt;
  if (patch.nodeGroup) await requireGroup(deps, workspaceId, patch.nodeGroup);
  const updated = await deps.repos.registrationTokens.update(
    workspaceId,
    id,
    { ...patch, expiresAt },
    now.toISOString(),
  );
  return registrationTokenView(updated);
}

/** Revokes the token for future logins; devices registered with it keep working. */
export async function deleteRegistrationToken(deps: Deps, workspaceId: string, id: string): Promise<void> {
  await deps.repos.registrationTokens.delete(workspaceId, id);
}
