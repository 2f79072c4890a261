import type { ClusterConfigView, PutClusterConfigRequest } from "../../contracts/cluster.ts";
import { DEFAULT_CLUSTER_CONFIG, type StoredClusterConfig } from "../../domain/cluster.ts";
import { conflict } from "../../domain/errors.ts";
import type { StoreDeps } from "../deps.ts";

/** `GET /api/v1/cluster-config`: the stored config, or the default (any image, revision 0) before one is written. */
export async function getClusterConfig(deps: StoreDeps, ws: string): Promise<ClusterConfigView> {
  return (await deps.repos.cluster.config(ws)) ?? DEFAULT_CLUSTER_CONFIG;
}

/**
 * `PUT /api/v1/cluster-config` (specs/launcher-extras.md §3): the whole config, written if the stored one is
 * still at `expectedRevision` (when given; 409 otherwise) and at the revision read (409 when another write
 * came first). New submits are checked against it at once; running jobs are not touched.
 */
export async function putClusterConfig(
  deps: StoreDeps,
  ws: string,
  input: PutClusterConfigRequest,
): Promise<ClusterConfigView> {
  const { expectedRevision, ...config } = input;
  const current = await deps.repos.cluster.config(ws);
  const revision = current?.revision ?? 0;
  if (expectedRevision !== undefined && revision !== expectedRevision)
    throw conflict(`the cluster config is at revision ${revision}, not ${expectedRevision}: read it again`, {
      revision,
    });
  const next: StoredClusterConfig = {
    images: config.images,
    ...(config.defaultImage ? { defaultImage: config.defaultImage } : {}),
    allowUnknownImages: config.allowUnknownImages,
    revision: revision + 1,
    updatedAt: deps.clock.now().toISOString(),
  };
  if (!(await deps.repos.cluster.putConfig(ws, next, current?.revision)))
    throw conflict("the cluster config was changed meanwhile: read it again and retry");
  return next;
}
