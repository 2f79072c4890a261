import type { QuotaView, SetQuotaRequest } from "../../contracts/quotas.ts";
import { countLimit, type QuotaState } from "../../domain/quota.ts";
import type { Repositories } from "../../ports/repositories.ts";

const view = (q: QuotaState): QuotaView => ({
  limits: {
    ...q.limits,
    maxSecrets: countLimit(q, "secrets"),
    maxNamespaces: countLimit(q, "namespaces"),
    maxApplications: countLimit(q, "applications"),
  },
  use: q.used,
});

/** `GET /api/v1/quotas`: the workspace's limits and what is in use. */
export async function getQuota(deps: { repos: Repositories }, workspaceId: string): Promise<QuotaView> {
  return view(await deps.repos.quotas.get(workspaceId));
}

/** `PUT /api/v1/quotas`: sets limits (`null` removes one). Lowering a limit ends no job; new submits wait. */
export async function setQuota(
  deps: { repos: Repositories },
  workspaceId: string,
  input: SetQuotaRequest,
): Promise<QuotaView> {
  return view(await deps.repos.quotas.setLimits(workspaceId, input));
}
