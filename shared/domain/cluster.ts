import { z } from "zod";

/**
 * A workspace's cluster config (specs/launcher-extras.md §3): the images the Launcher offers, the one it
 * preselects, and whether a job may name another (`allowUnknownImages: false` is enforced at submit).
 */
export const ClusterConfig = z.object({
  images: z.array(z.string()),
  defaultImage: z.string().optional(),
  allowUnknownImages: z.boolean(),
});
export type ClusterConfig = z.infer<typeof ClusterConfig>;

/** The config as stored: written only at the revision read (`revision` 0: never written). */
export const StoredClusterConfig = ClusterConfig.extend({
  revision: z.number().int(),
  updatedAt: z.string().optional(),
});
export type StoredClusterConfig = z.infer<typeof StoredClusterConfig>;

/** What a workspace has before an admin writes a config: any image, none listed. */
export const DEFAULT_CLUSTER_CONFIG: StoredClusterConfig = {
  images: [],
  allowUnknownImages: true,
  revision: 0,
};

/**
 * The workspace's summary for cluster info (`WS#<ws>` / `CLUSTERINFO`): what the fleet, the profiles and the
 * quota said at `generatedAt`, rebuilt by one request at a time (`rebuildingUntil`, its lease).
 */
export const ClusterSummary = z.object({
  info: z.record(z.string(), z.unknown()).optional(),
  generatedAt: z.string().optional(),
  rebuildingUntil: z.string().optional(),
});
export type ClusterSummary = z.infer<typeof ClusterSummary>;

/** A summary older than this is rebuilt; a rebuild's lease lasts this long. */
export const CLUSTER_INFO_MAX_AGE_SECONDS = 60;
export const CLUSTER_INFO_LEASE_SECONDS = 30;

/** Whether a job's image is allowed by the config; when not, the 400's message. */
export function imageRefusal(config: ClusterConfig, image: string): string | undefined {
  if (config.allowUnknownImages || config.images.includes(image)) return undefined;
  return `image ${image} is not allowed here; allowed: ${config.images.join(", ")} (an admin lists images with berth cluster config set --image ...)`;
}
