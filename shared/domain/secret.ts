import { z } from "zod";

/** Secret names (specs/secrets.md §1): unique per namespace. */
export const SecretName = z
  .string()
  .regex(
    /^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$/,
    "must be 1-63 lower-case letters, digits, '.', '_' or '-', starting and ending with a letter or digit",
  );

/** Synpse's exact strings; a secret's type never changes. */
export const SECRET_TYPES = ["Environment", "File"] as const;
export type SecretType = (typeof SECRET_TYPES)[number];

/** A value at most (decoded). */
export const MAX_SECRET_BYTES = 64 * 1024;

/**
 * A secret as stored: its metadata and its value encrypted under the workspace's data key `keyId`
 * (secret-envelope.ts; AAD: workspace, namespace, name, version). The value itself is never stored, shown or
 * logged.
 */
export const Secret = z.object({
  workspaceId: z.string(),
  namespace: z.string(),
  name: z.string(),
  type: z.enum(SECRET_TYPES),
  description: z.string().default(""),
  allowMemberJobs: z.boolean().default(false),
  /** +1 on every change of the value (not of the description or the flag). */
  version: z.number().int().min(1),
  /** Bumped on any change: what conditional updates check. */
  revision: z.number().int().min(1),
  fingerprint: z.string(),
  sizeBytes: z.number().int(),
  keyId: z.string(),
  ciphertext: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  createdBy: z.string(),
  updatedBy: z.string(),
  lastDeliveredAt: z.string().optional(),
});
export type Secret = z.infer<typeof Secret>;
