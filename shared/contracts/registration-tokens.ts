import { z } from "@hono/zod-openapi";
import { NodeGroupName } from "../domain/node-group.ts";
import { NAMING_STRATEGIES } from "../domain/registration-token.ts";
import { PageQuery, pageOf } from "./common.ts";
import { EnvInput, LabelsInput, StringMap } from "./labels.ts";

const Timestamp = z.iso
  .datetime({
    offset: true,
    error: "must be an RFC 3339 timestamp, e.g. 2026-12-31T00:00:00Z",
  })
  .max(64, "must be at most 64 characters");

/** More machines than one token would ever register: a larger cap is a typo. */
const MAX_REGISTRATIONS = 1_000_000_000;

export const CreateRegistrationTokenRequest = z
  .object({
    name: z.string().trim().min(1, "must not be empty").max(100, "must be at most 100 characters"),
    description: z.string().max(1000).default(""),
    labels: LabelsInput().default({}),
    environmentVariables: EnvInput.default({}),
    maxRegistrations: z
      .number()
      .int("must be a whole number")
      .min(1, "must be at least 1")
      .max(MAX_REGISTRATIONS, `must be at most ${MAX_REGISTRATIONS}`)
      .optional(),
    namingStrategy: z.enum(NAMING_STRATEGIES).default("default"),
    nodeGroup: NodeGroupName.optional(),
    expiresAt: Timestamp.optional(),
    keylessRelogin: z.boolean().default(false).openapi({
      description:
        "let machines that registered without a key of their own (GPUd) log in again with this token alone; Berth's agent signs its relogins and needs no such trust",
    }),
  })
  .openapi("CreateRegistrationTokenRequest");
export type CreateRegistrationTokenRequest = z.infer<typeof CreateRegistrationTokenRequest>;

/** Every field optional; `null` removes `maxRegistrations`, `expiresAt` or `nodeGroup`. */
export const UpdateRegistrationTokenRequest = z
  .object({
    name: z.string().trim().min(1, "must not be empty").max(100).optional(),
    description: z.string().max(1000).optional(),
    labels: LabelsInput().optional(),
    environmentVariables: EnvInput.optional(),
    maxRegistrations: z
      .number()
      .int("must be a whole number")
      .min(1, "must be at least 1")
      .max(MAX_REGISTRATIONS, `must be at most ${MAX_REGISTRATIONS}`)
      .nullable()
      .optional(),
    namingStrategy: z.enum(NAMING_STRATEGIES).optional(),
    nodeGroup: NodeGroupName.nullable().optional(),
    expiresAt: Timestamp.nullable().optional(),
    keylessRelogin: z.boolean().optional(),
  })
  .openapi("UpdateRegistrationTokenRequest");
export type UpdateRegistrationTokenRequest = z.infer<typeof UpdateRegistrationTokenRequest>;

export const RegistrationTokenView = z
  .object({
    id: z.string(),
    prefix: z.string(),
    name: z.string(),
    description: z.string(),
    labels: StringMap,
    environmentVariables: StringMap,
    maxRegistrations: z.number().optional(),
    namingStrategy: z.enum(NAMING_STRATEGIES),
    nodeGroup: z.string().optional(),
    expiresAt: z.string().optional(),
    keylessRelogin: z.boolean(),
    deviceCount: z.number().openapi({ description: "devices registered with this token (read-only)" }),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi("RegistrationToken");
export type RegistrationTokenView = z.infer<typeof RegistrationTokenView>;

export const CreatedRegistrationToken = RegistrationTokenView.extend({
  token: z.string().openapi({ description: "the secret; shown only in this response" }),
}).openapi("CreatedRegistrationToken");

export const RegistrationTokenPage = pageOf(RegistrationTokenView).openapi("RegistrationTokenPage");
export const ListRegistrationTokensQuery = PageQuery;
