import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import {
  CreateNamespaceRequest,
  ListNamespacesQuery,
  NamespacePage,
  NamespaceView,
  UpdateNamespaceRequest,
} from "../../contracts/namespaces.ts";
import { NamespaceParam } from "../../contracts/secrets.ts";
import { registryChanged } from "../../usecases/applications/applications.ts";
import { reconcileNow } from "../../usecases/applications/reconcile.ts";
import {
  createNamespace,
  deleteNamespace,
  getNamespace,
  listNamespaces,
  updateNamespace,
} from "../../usecases/namespaces/namespaces.ts";
import { sweepNamespace } from "../../usecases/namespaces/sweep.ts";
import type { AppDeps } from "../deps.ts";
import type { AppEnv } from "../env.ts";
import { errorResponses, json, jsonBody } from "../openapi.ts";
import { listPage } from "../pagination.ts";
import { access, workspaceOf } from "./access.ts";

/** Secrets a delete request removes itself (on Lambda, before it answers); the sweeper removes the rest. */
const INLINE_SWEEP = 200;

/**
 * `/api/v1/namespaces`: where secrets (and applications) live (specs/applications.md §1). Any key reads;
 * admin keys write. Deleting one deletes everything in it.
 */
export function namespaceRoutes(deps: AppDeps) {
  const { read, write } = access(deps, "namespaces");
  const ws = workspaceOf;
  return new OpenAPIHono<AppEnv>()
    .openapi(
      createRoute({
        ...write,
        method: "post",
        path: "/namespaces",
        summary: "Create a namespace",
        request: { body: jsonBody(CreateNamespaceRequest) },
        responses: {
          201: json("the namespace", NamespaceView),
          ...errorResponses(400, 401, 403, 409, 429),
        },
      }),
      async (c) => c.json(await createNamespace(deps, ws(c), c.req.valid("json")), 201),
    )
    .openapi(
      createRoute({
        ...read,
        method: "get",
        path: "/namespaces",
        summary: "List namespaces (default first among equals: by name)",
        request: { query: ListNamespacesQuery },
        responses: { 200: json("a page of namespaces", NamespacePage), ...errorResponses(400, 401) },
      }),
      async (c) =>
        c.json(
          await listPage(deps, c, c.req.valid("query"), {}, (page) => listNamespaces(deps, ws(c), page)),
          200,
        ),
    )
    .openapi(
      createRoute({
        ...read,
        method: "get",
        path: "/namespaces/{ns}",
        summary: "A namespace, with how many secrets and applications it holds",
        request: { params: NamespaceParam },
        responses: { 200: json("the namespace", NamespaceView), ...errorResponses(401, 404) },
      }),
      async (c) => c.json(await getNamespace(deps, ws(c), c.req.valid("param").ns), 200),
    )
    .openapi(
      createRoute({
        ...write,
        method: "patch",
        path: "/namespaces/{ns}",
        summary: "Change a namespace's description or registry credentials",
        request: { params: NamespaceParam, body: jsonBody(UpdateNamespaceRequest) },
        responses: {
          200: json("the namespace", NamespaceView),
          ...errorResponses(400, 401, 403, 404, 409),
        },
      }),
      async (c) => {
        const { ns } = c.req.valid("param");
        // New registry credentials: the namespace's container applications are redeployed with them.
        const redeploy = () => registryChanged(deps, ws(c), ns, (app) => reconcileNow(deps, app.id));
        return c.json(await updateNamespace(deps, ws(c), ns, c.req.valid("json"), redeploy), 200);
      },
    )
    .openapi(
      createRoute({
        ...write,
        method: "delete",
        path: "/namespaces/{ns}",
        summary: "Delete a namespace and everything in it (202: it is `deleting` until it is gone)",
        request: { params: NamespaceParam },
        responses: {
          202: json("the namespace, deleting", NamespaceView),
          ...errorResponses(400, 401, 403, 404, 409),
        },
      }),
      async (c) =>
        c.json(
          await deleteNamespace(deps, ws(c), c.req.valid("param").ns, (ns) =>
            sweepNamespace(deps, ns, INLINE_SWEEP).then(() => undefined),
          ),
          202,
        ),
    );
}
