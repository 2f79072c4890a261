import { z } from "@hono/zod-openapi";
import { SECRET_TYPES, SecretName } from "../domain/secret.ts";
import { Id, PageQuery, pageOf } from "./common.ts";

/** What a value may weigh as sent: base64 of 64 KiB, with room; the decoded size is checked after. */
const MAX_DATA_CHARS = 90_000;

const Data = z
  .string()
  .min(1, "must not be empty")
  .max(MAX_DATA_CHARS, "is too large (at most 64 KiB decoded)");
const Encoding = z.enum(["utf8", "base64"], { error: "encoding must be utf8 or base64" }).default("utf8");

export const CreateSecretRequest = z
  .object({
    name: SecretName,
    type: z.enum(SECRET_TYPES, { error: "type must be Environment or File" }),
    data: Data.openapi({ description: "the value (write-only: no answer ever contains it)" }),
    encoding: Encoding,
    description: z.string().max(500).default(""),
    allowMemberJobs: z.boolean().default(false).openapi({
      description:
        "whether jobs submitted with member keys may use it (a job that uses a secret can print it)",
    }),
  })
  .openapi("CreateSecretRequest");
export type CreateSecretRequest = z.infer<typeof CreateSecretRequest>;

export const UpdateSecretRequest = z
  .object({
    data: Data.optional(),
    encoding: Encoding,
    description: z.string().max(500).optional(),
    allowMemberJobs: z.boolean().optional(),
    expectedVersion: z.number().int().min(1).optional().openapi({
      description: "refuse (409) unless the value is still at this version",
    }),
    type: z.unknown().optional().openapi({ description: "refused: a secret's type cannot be changed" }),
  })
  .openapi("UpdateSecretRequest");
export type UpdateSecretRequest = z.infer<typeof UpdateSecretRequest>;

/** A secret as the API shows it: never its value. */
export const SecretView = z
  .object({
    name: z.string(),
    namespace: z.string(),
    type: z.enum(SECRET_TYPES),
    description: z.string(),
    allowMemberJobs: z.boolean(),
    version: z.number().int(),
    fingerprint: z.string().openapi({
      description:
        "tells two versions apart (first 16 hex of an HMAC under the workspace's key); useless offline",
    }),
    sizeBytes: z.number().int(),
    createdAt: z.string(),
    updatedAt: z.string(),
    createdBy: z.string().openapi({ description: "the API key id that created it" }),
    updatedBy: z.string(),
    lastDeliveredAt: z.string().optional(),
  })
  .openapi("Secret");
export type SecretView = z.infer<typeof SecretView>;

export const SecretPage = pageOf(SecretView).openapi("SecretPage");

export const ListSecretsQuery = PageQuery.extend({
  type: z
    .enum(SECRET_TYPES, { error: "type must be Environment or File" })
    .optional()
    .openapi({ param: { name: "type", in: "query" } }),
});

export const NamespaceParam = z.object({ ns: Id.openapi({ param: { name: "ns", in: "path" } }) });
export const SecretParams = NamespaceParam.extend({
  name: Id.openapi({ param: { name: "name", in: "path" } }),
});

/** What names a secret (specs/secrets.md §6): config that would break without it, and jobs not placed yet. */
export const SecretReferences = z
  .object({
    truncated: z
      .boolean()
      .optional()
      .openapi({ description: "true when only the oldest 1,000 pending jobs were looked at" }),
    items: z.array(
      z.object({
        kind: z.enum(["namespace", "application", "labConfig", "job"]),
        name: z
          .string()
          .openapi({ description: "the referrer's name (a job's name, or its id when unnamed)" }),
        namespace: z.string().optional(),
        id: z.string().optional(),
        status: z.string().optional(),
      }),
    ),
  })
  .openapi("SecretReferences");
export type SecretReferences = z.infer<typeof SecretReferences>;
