import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import {
  ApiKeyPage,
  ApiKeyView,
  CreateApiKeyRequest,
  CreatedApiKey,
  ListApiKeysQuery,
  WhoAmI,
} from "../../contracts/api-keys.ts";
import { IdParam } from "../../contracts/common.ts";
import { Role } from "../../domain/roles.ts";
import { createApiKey, getApiKey, listApiKeys, revokeApiKey } from "../../usecases/identity/api-keys.ts";
import type { AppDeps } from "../deps.ts";
import type { AppEnv } from "../env.ts";
import { requireUser } from "../middleware/auth.ts";
import { bearerSecurity, errorResponses, json, jsonBody } from "../openapi.ts";
import { listPage } from "../pagination.ts";

/** `/api/v1/api-keys`: create (secret shown once), list, get, revoke (admin keys only); `/whoami` (any key). */
export function apiKeyRoutes(deps: AppDeps) {
  const admin = requireUser(deps, Role.admin);
  const common = { tags: ["api keys"], security: bearerSecurity, middleware: admin };
  return new OpenAPIHono<AppEnv>()
    .openapi(
      createRoute({
        tags: ["api keys"],
        security: bearerSecurity,
        middleware: requireUser(deps, Role.member),
        method: "get",
        path: "/whoami",
        summary: "The key this request is made with: its workspace, name and role (any key)",
        responses: { 200: json("the caller", WhoAmI), ...errorResponses(401) },
      }),
      (c) => {
        const { workspaceId, keyId, name, role } = c.get("user");
        return c.json({ workspaceId, keyId, name, role }, 200);
      },
    )
    .openapi(
      createRoute({
        ...common,
        method: "post",
        path: "/api-keys",
        summary: "Create an API key; its secret is in the response and nowhere else",
        request: { body: jsonBody(CreateApiKeyRequest) },
        responses: {
          201: json("the key, with its secret in `key`", CreatedApiKey),
          ...errorResponses(400, 401, 403),
        },
      }),
      async (c) => {
        const { view, token } = await createApiKey(deps, c.get("user").workspaceId, c.req.valid("json"));
        return c.json({ ...view, key: token }, 201);
      },
    )
    .openapi(
      createRoute({
        ...common,
        method: "get",
        path: "/api-keys",
        summary: "List the workspace's API keys (prefixes only)",
        request: { query: ListApiKeysQuery },
        responses: { 200: json("a page of keys", ApiKeyPage), ...errorResponses(400, 401, 403) },
      }),
      async (c) => {
        const q = c.req.valid("query");
        const body = await listPage(deps, c, q, { includeRevoked: q.includeRevoked }, (page) =>
          listApiKeys(deps, c.get("user"), page, q.includeRevoked),
        );
        return c.json(body, 200);
      },
    )
    .openapi(
      createRoute({
        ...common,
        method: "get",
        path: "/api-keys/{id}",
        summary: "Get one API key",
        request: { params: IdParam },
        responses: { 200: json("the key", ApiKeyView), ...errorResponses(401, 403, 404) },
      }),
      async (c) => c.json(await getApiKey(deps, c.get("user"), c.req.valid("param").id), 200),
    )
    .openapi(
      createRoute({
        ...common,
        method: "delete",
        path: "/api-keys/{id}",
        summary: "Revoke an API key (idempotent)",
        request: { params: IdParam },
        responses: { 204: { description: "revoked" }, ...errorResponses(401, 403, 404) },
      }),
      async (c) => {
        await revokeApiKey(deps, c.get("user"), c.req.valid("param").id);
        return c.body(null, 204);
      },
    );
}
