import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import {
  CreateSecretRequest,
  ListSecretsQuery,
  NamespaceParam,
  SecretPage,
  SecretParams,
  SecretReferences,
  SecretView,
  UpdateSecretRequest,
} from "../../contracts/secrets.ts";
import { DEFAULT_NAMESPACE } from "../../domain/namespace.ts";
import { secretChanged } from "../../usecases/applications/applications.ts";
import { reconcileNow } from "../../usecases/applications/reconcile.ts";
import {
  createSecret,
  deleteSecret,
  getSecret,
  listSecrets,
  secretReferences,
  updateSecret,
} from "../../usecases/secrets/secrets.ts";
import type { AppDeps } from "../deps.ts";
import type { AppEnv } from "../env.ts";
import { errorResponses, json, jsonBody } from "../openapi.ts";
import { listPage } from "../pagination.ts";
import { access } from "./access.ts";

/**
 * `/api/v1/namespaces/{ns}/secrets`: named values, write-only (specs/secrets.md §6), and `/api/v1/secrets`,
 * the same routes in the `default` namespace. Any key reads metadata; admin keys write. No answer ever holds
 * a value.
 */
export function secretRoutes(deps: AppDeps) {
  return new OpenAPIHono<AppEnv>()
    .route("/", secretRoutesAt(deps, "/namespaces/{ns}/secrets", NamespaceParam, SecretParams))
    .route("/", secretRoutesAt(deps, "/secrets", NoParams as never, NameParam as never));
}

const NoParams = z.object({});
const NameParam = SecretParams.omit({ ns: true });

/** Where the shorthand routes name no namespace, the default one. */
const nsOf = (params: { ns?: string }) => params.ns ?? DEFAULT_NAMESPACE;

function secretRoutesAt<B extends "/namespaces/{ns}/secrets" | "/secrets">(
  deps: AppDeps,
  base: B,
  params: typeof NamespaceParam,
  named: typeof SecretParams,
) {
  const shorthand = base === "/secrets" ? " (in the default namespace)" : "";
  const { read, write } = access(deps, "secrets");
  // A value applications use changed: they are redeployed with it (their configVersion + 1).
  const redeploy = (ws: string, ns: string, name: string) =>
    secretChanged(deps, ws, ns, name, (app) => reconcileNow(deps, app.id));
  return new OpenAPIHono<AppEnv>()
    .openapi(
      createRoute({
        ...write,
        method: "post",
        path: base,
        summary: `Create a secret${shorthand} (its value is never shown again, to anyone)`,
        request: { params, body: jsonBody(CreateSecretRequest) },
        responses: {
          201: json("the secret's metadata", SecretView),
          ...errorResponses(400, 401, 403, 404, 409, 429),
        },
      }),
      async (c) => {
        const ns = nsOf(c.req.valid("param"));
        const created = await createSecret(deps, c.get("user"), ns, c.req.valid("json"));
        await redeploy(c.get("user").workspaceId, ns, created.name);
        return c.json(created, 201);
      },
    )
    .openapi(
      createRoute({
        ...read,
        method: "get",
        path: base,
        summary: `List a namespace's secrets${shorthand} (metadata)`,
        request: { params, query: ListSecretsQuery },
        responses: { 200: json("a page of secrets", SecretPage), ...errorResponses(400, 401, 404) },
      }),
      async (c) => {
        const q = c.req.valid("query");
        const ns = nsOf(c.req.valid("param"));
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
        path: `${base}/{name}` as `${B}/{name}`,
        summary: `A secret's metadata and fingerprint${shorthand}`,
        request: { params: named },
        responses: { 200: json("the secret", SecretView), ...errorResponses(401, 404) },
      }),
      async (c) => {
        const p = c.req.valid("param");
        return c.json(await getSecret(deps, c.get("user").workspaceId, nsOf(p), p.name), 200);
      },
    )
    .openapi(
      createRoute({
        ...write,
        method: "get",
        path: `${base}/{name}/references` as `${B}/{name}/references`,
        summary: `What names a secret${shorthand}: namespace config and jobs not placed yet`,
        request: { params: named },
        responses: { 200: json("its users", SecretReferences), ...errorResponses(401, 403, 404) },
      }),
      async (c) => {
        const p = c.req.valid("param");
        return c.json(await secretReferences(deps, c.get("user").workspaceId, nsOf(p), p.name), 200);
      },
    )
    .openapi(
      createRoute({
        ...write,
        method: "patch",
        path: `${base}/{name}` as `${B}/{name}`,
        summary: `Change a secret's value (a new version), description or member flag${shorthand}`,
        request: { params: named, body: jsonBody(UpdateSecretRequest) },
        responses: { 200: json("the secret", SecretView), ...errorResponses(400, 401, 403, 404, 409) },
      }),
      async (c) => {
        const p = c.req.valid("param");
        const ws = c.get("user").workspaceId;
        return c.json(
          await updateSecret(deps, c.get("user"), nsOf(p), p.name, c.req.valid("json"), () =>
            redeploy(ws, nsOf(p), p.name),
          ),
          200,
        );
      },
    )
    .openapi(
      createRoute({
        ...write,
        method: "delete",
        path: `${base}/{name}` as `${B}/{name}`,
        summary: `Delete a secret${shorthand} (copies already delivered to nodes are not recalled: rotate the credential)`,
        request: { params: named },
        responses: { 204: { description: "deleted" }, ...errorResponses(401, 403, 404, 409) },
      }),
      async (c) => {
        const p = c.req.valid("param");
        await deleteSecret(deps, c.get("user").workspaceId, nsOf(p), p.name);
        return c.body(null, 204);
      },
    );
}
