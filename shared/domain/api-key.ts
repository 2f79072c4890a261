import { z } from "zod";
import { ROLES } from "./roles.ts";

/** An API key as stored: the secret itself is never kept, only its SHA-256. */
export const ApiKey = z.object({
  id: z.string(),
  workspaceId: z.string(),
  name: z.string(),
  role: z.enum(ROLES),
  tokenHash: z.string(),
  createdAt: z.iso.datetime(),
  expiresAt: z.iso.datetime().optional(),
  lastUsedAt: z.iso.datetime().optional(),
  revokedAt: z.iso.datetime().optional(),
});
export type ApiKey = z.infer<typeof ApiKey>;

/** How often at most `lastUsedAt` is written for one key: authentication stays a single read. */
export const LAST_USED_RESOLUTION_MS = 60_000;
