import { z } from "zod";

export const DEFAULT_NODE_GROUP = "default";

/** Node group names: DNS-label style, unique within a workspace. */
export const NodeGroupName = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, "must be 1-63 lower-case letters, digits or '-'");

export const NodeGroup = z.object({
  id: z.string(),
  name: z.string(),
  workspaceId: z.string(),
  description: z.string().default(""),
  labels: z.record(z.string(), z.string()).default({}),
  /** Devices in the group; a group is deleted only at zero (conditional delete). */
  deviceCount: z.number().int().default(0),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});
export type NodeGroup = z.infer<typeof NodeGroup>;
