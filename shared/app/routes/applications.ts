import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import {
  AppLogs,
  AppLogsQuery,
  ApplicationPage,
  ApplicationParams,
  ApplicationView,
  CreateApplicationRequest,
  DeploymentList,
  DeploymentParams,
  DeploymentView,
  DeviceApplicationList,
  ListApplicationsQuery,
  ListDeploymentsQuery,
  LogCursor,
  UpdateApplicationRequest,
} from "../../contracts/applications.ts";
import { IdParam } from "../../contracts/common.ts";
import { NamespaceParam } from "../../contracts/secrets.ts";
import type { Application } from "../../domain/application.ts";
import {
  createApplication,
  deleteApplication,
  deploymentView,
  deviceApplications,
  getApplication,
  listApplications,
  listDeployments,
  updateApplication,
} from "../../usecases/applications/applications.ts";
import {
  deploymentLogs,
  deploymentOn,
  followDeploymentLogs,
  type LogItem,
} from "../../usecases/applications/logs.ts";
import { reconcileNow } from "../../usecases/applications/reconcile.ts";
import type { AppDeps } from "../deps.ts";
import type { AppEnv } from "../env.ts";
import { type FollowMessage, followStream, resumeCursor } from "../follow-stream.ts";
import { errorResponses, json, jsonBody, sse } from "../openapi.ts";
import { listPage } from "../pagination.ts";
import { access, workspaceOf } from "./access.ts";
import { followElsewhere, followWindow } from "./jobs.ts";

const BASE = "/namespaces/{ns}/applications";

/**
 * `/api/v1/namespaces/{ns}/applications`: long-running workloads on every matching device
 * (specs/applications.md). Any key reads; admin keys write. Each write reconciles the application before
 * it answers (the sweeper goes on from there).
 */
export function applicationRoutes(deps: AppDeps) {
  const { read, write } = access(deps, "applications");
  const ws = workspaceOf;
  const reconcile = (app: Application) => reconcileNow(deps, app.id);
  return new OpenAPIHono<AppEnv>()
    .openapi(
      createRoute({
        ...write,
        method: "post",
        path: BASE,
        summary: "Create an application (version 1); it is deployed to every matching device",
        request: { params: NamespaceParam, body: jsonBody(CreateApplicationRequest) },
        responses: {
          201: json("the application", ApplicationView),
          ...errorResponses(400, 401, 403, 404, 409, 429),
        },
      }),
      async (c) =>
        c.json(
          await createApplication(
            deps,
            c.get("user"),
            c.req.valid("param").ns,
            c.req.valid("json"),
            reconcile,
          ),
          201,
        ),
    )
    .openapi(
      createRoute({
        ...read,
        method: "get",
        path: BASE,
        summary: "List a namespace's applications, with their deployment status",
        request: { params: NamespaceParam, query: ListApplicationsQuery },
        responses: { 200: json("a page of applications", ApplicationPage), ...errorResponses(400, 401, 404) },
      }),
      async (c) => {
        const { ns } = c.req.valid("param");
        return c.json(
          await listPage(deps, c, c.req.valid("query"), { ns }, (page) =>
            listApplications(deps, ws(c), ns, page),
          ),
          200,
        );
      },
    )
    .openapi(
      createRoute({
        ...read,
        method: "get",
        path: `${BASE}/{app}`,
        summary: "An application (by name or id) and its deployment status",
        request: { params: ApplicationParams },
        responses: { 200: json("the application", ApplicationView), ...errorResponses(401, 404) },
      }),
      async (c) => {
        const { ns, app } = c.req.valid("param");
        return c.json(await getApplication(deps, ws(c), ns, app), 200);
      },
    )
    .openapi(
      createRoute({
        ...write,
        method: "patch",
        path: `${BASE}/{app}`,
        summary: "Change an application: a new spec or scheduling is a new version, rolled out",
        request: { params: ApplicationParams, body: jsonBody(UpdateApplicationRequest) },
        responses: {
          200: json("the application", ApplicationView),
          ...errorResponses(400, 401, 403, 404, 409),
        },
      }),
      async (c) => {
        const { ns, app } = c.req.valid("param");
        return c.json(
          await updateApplication(deps, c.get("user"), ns, app, c.req.valid("json"), reconcile),
          200,
        );
      },
    )
    .openapi(
      createRoute({
        ...write,
        method: "post",
        path: `${BASE}/{app}/restart`,
        summary: "Redeploy an application everywhere (its config version + 1)",
        request: { params: ApplicationParams },
        responses: { 200: json("the application", ApplicationView), ...errorResponses(401, 403, 404, 409) },
      }),
      async (c) => {
        const { ns, app } = c.req.valid("param");
        return c.json(
          await updateApplication(deps, c.get("user"), ns, app, { restart: true }, reconcile),
          200,
        );
      },
    )
    .openapi(
      createRoute({
        ...write,
        method: "delete",
        path: `${BASE}/{app}`,
        summary: "Delete an application (202: it is deleting until every device has removed it)",
        request: { params: ApplicationParams },
        responses: { 202: json("the application", ApplicationView), ...errorResponses(401, 403, 404, 409) },
      }),
      async (c) => {
        const { ns, app } = c.req.valid("param");
        return c.json(await deleteApplication(deps, ws(c), ns, app, reconcile), 202);
      },
    )
    .openapi(
      createRoute({
        ...read,
        method: "get",
        path: `${BASE}/{app}/deployments`,
        summary: "An application's deployments, one per device",
        request: { params: ApplicationParams, query: ListDeploymentsQuery },
        responses: { 200: json("its deployments", DeploymentList), ...errorResponses(400, 401, 404) },
      }),
      async (c) => {
        const { ns, app } = c.req.valid("param");
        return c.json(await listDeployments(deps, ws(c), ns, app, c.req.valid("query").state), 200);
      },
    )
    .openapi(
      createRoute({
        ...read,
        method: "get",
        path: `${BASE}/{app}/devices/{device}`,
        summary: "An application's deployment on one device",
        request: { params: DeploymentParams },
        responses: { 200: json("the deployment", DeploymentView), ...errorResponses(401, 404) },
      }),
      async (c) => {
        const { ns, app, device } = c.req.valid("param");
        return c.json(deploymentView(await deploymentOn(deps, ws(c), ns, app, device)), 200);
      },
    )
    .openapi(
      createRoute({
        ...read,
        method: "get",
        path: `${BASE}/{app}/devices/{device}/logs`,
        summary: "An application's output on one device (follow=true: server-sent `output` events)",
        description:
          "Each line names its container. `tail=N`: the last N lines. With follow=true the stream goes on " +
          "across updates (a successor's output follows) and ends with `gone` when the deployment is removed; " +
          "each event's `id:` resumes the stream (Last-Event-ID or `after=`). Kept 7 days.",
        request: { params: DeploymentParams, query: AppLogsQuery },
        responses: {
          200: {
            ...json("output so far", AppLogs),
            content: { ...json("", AppLogs).content, ...sse("").content },
          },
          307: {
            description: "this host cannot hold a stream (AWS Lambda): the same request at Location can",
          },
          ...errorResponses(400, 401, 404, 503),
        },
      }),
      async (c) => {
        const { ns, app, device } = c.req.valid("param");
        const q = c.req.valid("query");
        const opts = { container: q.container, stream: q.stream, tail: q.tail };
        if (!q.follow) return c.json(await deploymentLogs(deps, ws(c), ns, app, device, opts), 200);
        const elsewhere = followElsewhere(deps, c.req.url);
        if (elsewhere) return c.redirect(elsewhere, 307) as never;
        const after = resumeCursor(c, LogCursor, q.after);
        const abort = new AbortController();
        const items = await followDeploymentLogs(
          deps,
          ws(c),
          ns,
          app,
          device,
          { ...opts, after },
          abort.signal,
        );
        return followStream(
          c,
          deps.config.followKeepAliveMs,
          abort,
          logMessages(items),
          followWindow(deps),
        ) as never;
      },
    )
    .openapi(
      createRoute({
        ...read,
        method: "get",
        path: "/devices/{id}/applications",
        summary: "The applications deployed on a device, each with its state there",
        request: { params: IdParam },
        responses: {
          200: json("its deployments", DeviceApplicationList),
          ...errorResponses(401, 404),
        },
      }),
      async (c) => c.json(await deviceApplications(deps, ws(c), c.req.valid("param").id), 200),
    );
}

async function* logMessages(items: AsyncIterable<LogItem>): AsyncGenerator<FollowMessage> {
  for await (const item of items) {
    const id = item.cursor;
    if ("line" in item) yield { event: "output", id, data: JSON.stringify(item.line) };
    else if ("gone" in item)
      yield { event: "gone", id, data: JSON.stringify({ reason: "the deployment was removed" }) };
    else
      yield {
        event: "closing",
        id,
        data: JSON.stringify({
          reason: "the control plane is shutting down; follow again (Last-Event-ID) to continue",
        }),
      };
  }
}
