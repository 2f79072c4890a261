import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import {
  CreateSecretRequest,
  ListSecretsQuery,
  NamespaceParam,
  SecretPage,
  SecretParams,
  SecretView,
  UpdateSecretRequest,
} from "../../contracts/secrets.ts";
import { Role } from "../../domain/roles.ts";
import {
  createSecret,
  deleteSecret,
  getSecret,
  listSecrets,
  updateSecret,
} from "../../usecases/secrets/secrets.ts";
import type { AppDeps } from "../deps.ts";
import type { AppEnv } from "../env.ts";
import { requireUser } from "../middleware/auth.ts";
import { bearerSecurity, errorResponses, json, jsonBody } from "../openapi.ts";
import { listPage } from "../pagination.ts";

const BASE = "/namespaces/{ns}/secrets";

/**
 * `/api/v1/namespaces/{ns}/secrets`: named values, write-only (specs/secrets.md §6). Any key reads metadata;
 * admin keys write. No answer ever holds a value.
 */
export function secretRoutes(deps: AppDeps) {
  const read = { tags: ["secrets"], security: bearerSecurity, middleware: requireUser(deps, Role.member) };
  const write = { ...read, middleware: requireUser(deps, Role.admin) };
  return new OpenAPIHono<AppEnv>()
    .openapi(
      createRoute({
        ...write,
        method: "post",
        path: BASE,
        summary: "Create a secret (its value is never shown again, to anyone)",
        request: { params: NamespaceParam, body: jsonBody(CreateSecretRequest) },
        responses: {
          201: json("the secret's metadata", SecretView),
          ...errorResponses(400, 401, 403, 404, 409),
        },
      }),
      async (c) =>
        c.json(await createSecret(deps, c.get("user"), c.req.valid("param").ns, c.req.valid("json")), 201),
    )
    .openapi(
      createRoute({
        ...read,
        method: "get",
        path: BASE,
        summary: "List a namespace's secrets (metadata)",
        request: { params: NamespaceParam, query: ListSecretsQuery },
        responses: { 200: json("a page of secrets", SecretPage), ...errorResponses(400, 401, 404) },
      }),
      async (c) => {
        const q = c.req.valid("query");
        const { ns } = c.req.valid("param");
        return c.json(
          await listPage(deps, c, q, { ns, type: q.type }, (page) =>
            listSecrets(deps, c.get("user").workspaceId, ns, q.type, page),
          ),
          200,
        );
      },
    )
    .openapi(
      createRoute({
        ...read,
        method: "get",
        path: `${BASE}/{name}`,
        summary: "A secret's metadata and fingerprint",
        request: { params: SecretParams },
        responses: { 200: json("the secret", SecretView), ...errorResponses(401, 404) },
      }),
      async (c) => {
        const { ns, name } = c.req.valid("param");
        return c.json(await getSecret(deps, c.get("user").workspaceId, ns, name), 200);
      },
    )
    .openapi(
      createRoute({
        ...write,
        method: "patch",
        path: `${BASE}/{name}`,
        summary: "Change a secret's value (a new version), description or member flag",
        request: { params: SecretParams, body: jsonBody(UpdateSecretRequest) },
        responses: { 200: json("the secret", SecretView), ...errorResponses(400, 401, 403, 404, 409) },
      }),
      async (c) => {
        const { ns, name } = c.req.valid("param");
        return c.json(await updateSecret(deps, c.get("user"), ns, name, c.req.valid("json")), 200);
      },
    )
    .openapi(
      createRoute({
        ...write,
        method: "delete",
        path: `${BASE}/{name}`,
        summary:
          "Delete a secret (copies already delivered to nodes are not recalled: rotate the credential)",
        request: { params: SecretParams },
        responses: { 204: { description: "deleted" }, ...errorResponses(401, 403, 404) },
      }),
      async (c) => {
        const { ns, name } = c.req.valid("param");
        await deleteSecret(deps, c.get("user").workspaceId, ns, name);
        return c.body(null, 204);
      },
    );
}
