import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import {
  CreateNodeGroupRequest,
  ListNodeGroupsQuery,
  NameParam,
  NodeGroupPage,
  NodeGroupView,
  UpdateNodeGroupRequest,
} from "../../contracts/node-groups.ts";
import { Role } from "../../domain/roles.ts";
import {
  createNodeGroup,
  deleteNodeGroup,
  getNodeGroup,
  listNodeGroups,
  updateNodeGroup,
} from "../../usecases/identity/node-groups.ts";
import type { AppDeps } from "../deps.ts";
import type { AppEnv } from "../env.ts";
import { requireUser } from "../middleware/auth.ts";
import { bearerSecurity, errorResponses, json, jsonBody } from "../openapi.ts";
import { listPage } from "../pagination.ts";
import { workspaceOf } from "./access.ts";

/** `/api/v1/node-groups`: named sets of devices. Admin keys only. */
export function nodeGroupRoutes(deps: AppDeps) {
  const common = {
    tags: ["node groups"],
    security: bearerSecurity,
    middleware: requireUser(deps, Role.admin),
  };
  const ws = workspaceOf;
  return new OpenAPIHono<AppEnv>()
    .openapi(
      createRoute({
        ...common,
        method: "post",
        path: "/node-groups",
        summary: "Create a node group",
        request: { body: jsonBody(CreateNodeGroupRequest) },
        responses: { 201: json("the group", NodeGroupView), ...errorResponses(400, 401, 403, 409) },
      }),
      async (c) => c.json(await createNodeGroup(deps, ws(c), c.req.valid("json")), 201),
    )
    .openapi(
      createRoute({
        ...common,
        method: "get",
        path: "/node-groups",
        summary: "List node groups",
        request: { query: ListNodeGroupsQuery },
        responses: { 200: json("a page of groups", NodeGroupPage), ...errorResponses(400, 401, 403) },
      }),
      async (c) =>
        c.json(
          await listPage(deps, c, c.req.valid("query"), {}, (page) => listNodeGroups(deps, ws(c), page)),
          200,
        ),
    )
    .openapi(
      createRoute({
        ...common,
        method: "get",
        path: "/node-groups/{name}",
        summary: "Get a node group",
        request: { params: NameParam },
        responses: { 200: json("the group", NodeGroupView), ...errorResponses(401, 403, 404) },
      }),
      async (c) => c.json(await getNodeGroup(deps, ws(c), c.req.valid("param").name), 200),
    )
    .openapi(
      createRoute({
        ...common,
        method: "patch",
        path: "/node-groups/{name}",
        summary: "Update a node group's description or labels",
        request: { params: NameParam, body: jsonBody(UpdateNodeGroupRequest) },
        responses: { 200: json("the updated group", NodeGroupView), ...errorResponses(400, 401, 403, 404) },
      }),
      async (c) =>
        c.json(await updateNodeGroup(deps, ws(c), c.req.valid("param").name, c.req.valid("json")), 200),
    )
    .openapi(
      createRoute({
        ...common,
        method: "delete",
        path: "/node-groups/{name}",
        summary: "Delete an empty node group (409 while it has devices, and for `default`)",
        request: { params: NameParam },
        responses: { 204: { description: "deleted" }, ...errorResponses(401, 403, 404, 409) },
      }),
      async (c) => {
        await deleteNodeGroup(deps, ws(c), c.req.valid("param").name);
        return c.body(null, 204);
      },
    );
}
