import { z } from "zod";

export const NAMING_STRATEGIES = ["default", "fromHostname"] as const;

/** A registration token as stored: the secret is only in its SHA-256. */
export const RegistrationToken = z.object({
  id: z.string(),
  workspaceId: z.string(),
  name: z.string(),
  description: z.string().default(""),
  labels: z.record(z.string(), z.string()).default({}),
  environmentVariables: z.record(z.string(), z.string()).default({}),
  maxRegistrations: z.number().int().optional(),
  namingStrategy: z.enum(NAMING_STRATEGIES).default("default"),
  nodeGroup: z.string().optional(),
  expiresAt: z.iso.datetime().optional(),
  tokenHash: z.string(),
  /**
   * Whether a device that registered without a key of its own (GPUd) may log in again with this token alone.
   * Absent on tokens stored before the field existed (they allowed it); false by default for new ones.
   */
  keylessRelogin: z.boolean().optional(),
  /** Devices registered with this token and not deleted; counted atomically with the cap. */
  deviceCount: z.number().int().default(0),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});
export type RegistrationToken = z.infer<typeof RegistrationToken>;
