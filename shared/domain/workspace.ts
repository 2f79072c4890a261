import { z } from "zod";

/** Workspace names: lower-case DNS-label style, so they can appear in URLs, tags and log fields. */
export const WorkspaceName = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, "must be 1-63 lower-case letters, digits or '-'");

/** A tenant: every other object belongs to exactly one workspace. Its id is its name. */
export const Workspace = z.object({
  id: WorkspaceName,
  createdAt: z.iso.datetime(),
});
export type Workspace = z.infer<typeof Workspace>;

export const DEFAULT_WORKSPACE = "default";
