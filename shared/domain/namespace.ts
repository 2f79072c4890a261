import { z } from "zod";

/** Always there, never deleted: where secrets (and applications) go when no namespace is named. */
export const DEFAULT_NAMESPACE = "default";

/** Namespace names: as node group names (DNS-label style), unique within a workspace. */
export const NamespaceName = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, "must be 1-63 lower-case letters, digits or '-'");

export const NAMESPACE_STATUSES = ["active", "deleting"] as const;

/** Registry credentials for the namespace's applications: the password is an Environment secret of it. */
export const RegistryAuthentication = z.object({
  serverAddress: z.string().min(1).max(253),
  username: z.string().min(1).max(256),
  fromSecret: z.string(),
});
export type RegistryAuthentication = z.infer<typeof RegistryAuthentication>;

export const NamespaceConfig = z.object({ registryAuthentication: RegistryAuthentication.optional() });
export type NamespaceConfig = z.infer<typeof NamespaceConfig>;

/**
 * A namespace (specs/applications.md §1): Synpse's `Namespace` plus `status`. Secrets and applications live in
 * exactly one. `secretCount` and `applicationCount` are counted in the same transactions that create and delete
 * them, so a namespace being deleted (`deleting`: nothing new may join it) is gone once both are zero.
 */
export const Namespace = z.object({
  id: z.string(),
  workspaceId: z.string(),
  name: z.string(),
  description: z.string().default(""),
  config: NamespaceConfig.default({}),
  status: z.enum(NAMESPACE_STATUSES),
  secretCount: z.number().int().default(0),
  applicationCount: z.number().int().default(0),
  /** Bumped on every change of description, config or status: what conditional updates check. */
  revision: z.number().int().min(1),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Namespace = z.infer<typeof Namespace>;
