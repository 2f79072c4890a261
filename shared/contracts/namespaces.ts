import { z } from "@hono/zod-openapi";
import { NAMESPACE_STATUSES, NamespaceName } from "../domain/namespace.ts";
import { SecretName } from "../domain/secret.ts";
import { PageQuery, pageOf } from "./common.ts";

/** Synpse's `DockerAuth` (namespace `registryAuthentication`, container `auth`): the password from a secret. */
export const RegistryAuthentication = z
  .object({
    serverAddress: z.string().min(1).max(253).openapi({ example: "ghcr.io" }),
    username: z.string().min(1).max(256),
    fromSecret: SecretName.describe("an Environment secret of this namespace holding the password or token"),
    password: z.unknown().optional().openapi({ description: "refused: put it in a secret (fromSecret)" }),
  })
  .strict();

const Config = z
  .object({ registryAuthentication: RegistryAuthentication.nullable().optional() })
  .strict()
  .openapi({ description: "registry credentials for the namespace's applications (null removes them)" });

export const CreateNamespaceRequest = z
  .object({
    name: NamespaceName,
    description: z.string().max(1000).default(""),
    config: Config.default({}),
  })
  .openapi("CreateNamespaceRequest");
export type CreateNamespaceRequest = z.infer<typeof CreateNamespaceRequest>;

export const UpdateNamespaceRequest = z
  .object({ description: z.string().max(1000).optional(), config: Config.optional() })
  .openapi("UpdateNamespaceRequest");
export type UpdateNamespaceRequest = z.infer<typeof UpdateNamespaceRequest>;

export const NamespaceView = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string(),
    config: z.object({
      registryAuthentication: z
        .object({ serverAddress: z.string(), username: z.string(), fromSecret: z.string() })
        .optional(),
    }),
    status: z.enum(NAMESPACE_STATUSES).openapi({
      description: "deleting: everything in it is being deleted, and nothing new may be created in it",
    }),
    applicationCount: z.number().int(),
    secretCount: z.number().int(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi("Namespace");
export type NamespaceView = z.infer<typeof NamespaceView>;

export const NamespacePage = pageOf(NamespaceView).openapi("NamespacePage");
export const ListNamespacesQuery = PageQuery;
