import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { ClusterConfigView, ClusterInfoView, PutClusterConfigRequest } from "../../contracts/cluster.ts";
import { getClusterConfig, putClusterConfig } from "../../usecases/cluster/cluster-config.ts";
import { getClusterInfo } from "../../usecases/cluster/cluster-info.ts";
import type { AppDeps } from "../deps.ts";
import type { AppEnv } from "../env.ts";
import { errorResponses, json, jsonBody } from "../openapi.ts";
import { access, workspaceOf } from "./access.ts";

/**
 * `/api/v1/cluster-info` (any key) and `/api/v1/cluster-config` (admin keys write it): what the Launcher's
 * GET_CLUSTER_INFO answers, and the workspace's image list (specs/launcher-extras.md §3).
 */
export function clusterRoutes(deps: AppDeps) {
  const { read, write } = access(deps, "cluster");
  return new OpenAPIHono<AppEnv>()
    .openapi(
      createRoute({
        ...read,
        method: "get",
        path: "/cluster-info",
        summary:
          "The Launcher's cluster info (containers, constraints, queues, limits, images, profiles) and Berth's extras under `berth`",
        description:
          "Served from a per-workspace summary rebuilt at most once a minute: device and label changes show within a minute. `Cache-Control: private, max-age=30`.",
        responses: { 200: json("cluster info", ClusterInfoView), ...errorResponses(401) },
      }),
      async (c) => {
        const info = await getClusterInfo(deps, workspaceOf(c));
        c.header("Cache-Control", "private, max-age=30");
        return c.json(info, 200);
      },
    )
    .openapi(
      createRoute({
        ...write,
        method: "get",
        path: "/cluster-config",
        summary: "The workspace's cluster config: images, the default image, whether others are allowed",
        responses: { 200: json("the cluster config", ClusterConfigView), ...errorResponses(401, 403) },
      }),
      async (c) => c.json(await getClusterConfig(deps, workspaceOf(c)), 200),
    )
    .openapi(
      createRoute({
        ...write,
        method: "put",
        path: "/cluster-config",
        summary:
          "Set the cluster config; with allowUnknownImages false, jobs naming an image not listed are refused (400)",
        request: { body: jsonBody(PutClusterConfigRequest) },
        responses: {
          200: json("the cluster config", ClusterConfigView),
          ...errorResponses(400, 401, 403, 409),
        },
      }),
      async (c) => c.json(await putClusterConfig(deps, workspaceOf(c), c.req.valid("json")), 200),
    );
}
