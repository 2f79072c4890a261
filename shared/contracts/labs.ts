import { z } from "@hono/zod-openapi";
import { LabConfig, LabQuota } from "../domain/lab.ts";

/** `PUT /api/v1/labs/config`: the whole config (specs/labs.md §2); fields not given take their defaults. */
export const PutLabConfigRequest = LabConfig.extend({
  expectedRevision: z.number().int().min(1).optional().openapi({
    description: "refuse (409) unless the stored config is still at this revision",
  }),
})
  .strict()
  .openapi("PutLabConfigRequest");
export type PutLabConfigRequest = z.infer<typeof PutLabConfigRequest>;

export const LabConfigView = LabConfig.extend({ revision: z.number().int(), updatedAt: z.string() }).openapi(
  "LabConfig",
);
export type LabConfigView = z.infer<typeof LabConfigView>;

/** `PUT /api/v1/labs/quotas/{user}`: the fields to override; `null` takes one back to the default. */
export const SetLabQuotaRequest = z
  .object({
    cpu: LabQuota.shape.cpu.nullable().optional(),
    memoryGiB: LabQuota.shape.memoryGiB.nullable().optional(),
    gpus: LabQuota.shape.gpus.nullable().optional(),
    spawn: LabQuota.shape.spawn.nullable().optional(),
  })
  .strict()
  .openapi("SetLabQuotaRequest");
export type SetLabQuotaRequest = z.infer<typeof SetLabQuotaRequest>;

export const LabQuotaView = z
  .object({
    user: z.string(),
    quota: LabQuota.extend({}).openapi({
      description: "what applies: the config's default with the user's override",
    }),
    override: LabQuota.partial(),
  })
  .openapi("LabQuota");
export type LabQuotaView = z.infer<typeof LabQuotaView>;

export const LabUserParam = z.object({
  user: z
    .string()
    .min(1)
    .max(128)
    .openapi({ param: { name: "user", in: "path" }, description: "the user (a key's name)" }),
});
