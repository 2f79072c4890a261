import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { IdParam } from "../../contracts/common.ts";
import {
  CreatedRegistrationToken,
  CreateRegistrationTokenRequest,
  ListRegistrationTokensQuery,
  RegistrationTokenPage,
  RegistrationTokenView,
  UpdateRegistrationTokenRequest,
} from "../../contracts/registration-tokens.ts";
import { Role } from "../../domain/roles.ts";
import {
  createRegistrationToken,
  deleteRegistrationToken,
  getRegistrationToken,
  listRegistrationTokens,
  updateRegistrationToken,
} from "../../usecases/identity/registration-tokens.ts";
import type { AppDeps } from "../deps.ts";
import type { AppEnv } from "../env.ts";
import { requireUser } from "../middleware/auth.ts";
import { bearerSecurity, errorResponses, json, jsonBody } from "../openapi.ts";
import { listPage } from "../pagination.ts";
import { workspaceOf } from "./access.ts";

/** `/api/v1/registration-tokens`: how machines get in. Admin keys only. */
export function registrationTokenRoutes(deps: AppDeps) {
  const common = {
    tags: ["registration tokens"],
    security: bearerSecurity,
    middleware: requireUser(deps, Role.admin),
  };
  const ws = workspaceOf;
  return new OpenAPIHono<AppEnv>()
    .openapi(
      createRoute({
        ...common,
        method: "post",
        path: "/registration-tokens",
        summary: "Create a registration token; its secret is in `token`, shown only now",
        request: { body: jsonBody(CreateRegistrationTokenRequest) },
        responses: {
          201: json("the token and its secret", CreatedRegistrationToken),
          ...errorResponses(400, 401, 403),
        },
      }),
      async (c) => {
        const { view, token } = await createRegistrationToken(deps, ws(c), c.req.valid("json"));
        return c.json({ ...view, token }, 201);
      },
    )
    .openapi(
      createRoute({
        ...common,
        method: "get",
        path: "/registration-tokens",
        summary: "List registration tokens (prefixes only)",
        request: { query: ListRegistrationTokensQuery },
        responses: { 200: json("a page of tokens", RegistrationTokenPage), ...errorResponses(400, 401, 403) },
      }),
      async (c) =>
        c.json(
          await listPage(deps, c, c.req.valid("query"), {}, (page) =>
            listRegistrationTokens(deps, ws(c), page),
          ),
          200,
        ),
    )
    .openapi(
      createRoute({
        ...common,
        method: "get",
        path: "/registration-tokens/{id}",
        summary: "Get a registration token",
        request: { params: IdParam },
        responses: { 200: json("the token", RegistrationTokenView), ...errorResponses(401, 403, 404) },
      }),
      async (c) => c.json(await getRegistrationToken(deps, ws(c), c.req.valid("param").id), 200),
    )
    .openapi(
      createRoute({
        ...common,
        method: "patch",
        path: "/registration-tokens/{id}",
        summary: "Update a registration token (devices already registered keep what they inherited)",
        request: { params: IdParam, body: jsonBody(UpdateRegistrationTokenRequest) },
        responses: {
          200: json("the updated token", RegistrationTokenView),
          ...errorResponses(400, 401, 403, 404),
        },
      }),
      async (c) =>
        c.json(await updateRegistrationToken(deps, ws(c), c.req.valid("param").id, c.req.valid("json")), 200),
    )
    .openapi(
      createRoute({
        ...common,
        method: "delete",
        path: "/registration-tokens/{id}",
        summary: "Delete a registration token: no new logins with it; registered devices keep working",
        request: { params: IdParam },
        responses: { 204: { description: "deleted" }, ...errorResponses(401, 403, 404) },
      }),
      async (c) => {
        await deleteRegistrationToken(deps, ws(c), c.req.valid("param").id);
        return c.body(null, 204);
      },
    );
}
