import { z } from "@hono/zod-openapi";
import { ROLES } from "../domain/roles.ts";
import { PageQuery, pageOf } from "./common.ts";

export const CreateApiKeyRequest = z
  .object({
    name: z.string().trim().min(1, "must not be empty").max(100, "must be at most 100 characters"),
    role: z.enum(ROLES).default("member"),
    expiresAt: z.iso
      .datetime({ offset: true, error: "must be an RFC 3339 timestamp, e.g. 2026-12-31T00:00:00Z" })
      .max(64, "must be at most 64 characters")
      .optional(),
  })
  .openapi("CreateApiKeyRequest");
export type CreateApiKeyRequest = z.infer<typeof CreateApiKeyRequest>;

/** An API key as the API shows it: never its secret or hash. */
export const ApiKeyView = z
  .object({
    id: z.string(),
    prefix: z.string().openapi({ example: "berth_sk_01jbx7q8m3k2t9w0v5c6n4r1ya" }),
    name: z.string(),
    role: z.enum(ROLES),
    createdAt: z.string(),
    lastUsedAt: z.string().optional(),
    expiresAt: z.string().optional(),
    revokedAt: z.string().optional(),
  })
  .openapi("ApiKey");
export type ApiKeyView = z.infer<typeof ApiKeyView>;

/** The create response: the only time the secret is ever shown. */
export const CreatedApiKey = ApiKeyView.extend({
  key: z.string().openapi({ description: "the secret; shown only in this response" }),
}).openapi("CreatedApiKey");

export const ListApiKeysQuery = PageQuery.extend({
  includeRevoked: z
    .enum(["true", "false"])
    .optional()
    .transform((v) => v === "true")
    .openapi({ param: { name: "includeRevoked", in: "query" } }),
});

export const ApiKeyPage = pageOf(ApiKeyView).openapi("ApiKeyPage");

/** `GET /api/v1/whoami`: the key a request was made with, as its holder may see it. */
export const WhoAmI = z
  .object({
    workspaceId: z.string(),
    keyId: z.string(),
    name: z.string().openapi({ description: "the key's name: the `user` of the jobs it submits" }),
    role: z.enum(ROLES),
  })
  .openapi("WhoAmI");
