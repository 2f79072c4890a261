import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import {
  FileserverView,
  LabConfigView,
  LabEventsQuery,
  LabImages,
  LabList,
  LabListQuery,
  LabOptionsView,
  LabQuotaView,
  LabUserParam,
  LabView,
  PrepullerStatus,
  PutLabConfigRequest,
  SetLabQuotaRequest,
  SpawnLabRequest,
} from "../../contracts/labs.ts";
import type { LabKind } from "../../domain/lab-state.ts";
import { Role } from "../../domain/roles.ts";
import { getLabConfig, getLabQuota, putLabConfig, setLabQuota } from "../../usecases/labs/config.ts";
import { labImages, labOptions, prepullerStatus } from "../../usecases/labs/images.ts";
import {
  deleteLab,
  enabledConfig,
  ensureFileserver,
  followLabEvents,
  getLab,
  listLabs,
  renewFileserver,
  spawnLab,
} from "../../usecases/labs/labs.ts";
import type { AppDeps } from "../deps.ts";
import type { AppEnv } from "../env.ts";
import { followStream, resumeCursor } from "../follow-stream.ts";
import { requireUser } from "../middleware/auth.ts";
import { bearerSecurity, errorResponses, json, jsonBody, sse } from "../openapi.ts";
import { listPage } from "../pagination.ts";
import { workspaceOf } from "./access.ts";
import { followElsewhere, followWindow } from "./jobs.ts";

const EventId = z.coerce.number().int().min(0).max(100_000);

const EVENTS =
  "Server-sent events in Nublado's form: `event:` info, error, failed or complete; `data: {message, progress}` " +
  "(progress 1-100, absent when unknown). The current operation's events from its start (or after " +
  "Last-Event-ID), then each new one; the stream ends after complete or failed.";

/**
 * Labs (specs/labs.md): the config and per-user quota overrides (admin), the image menu, spawn options and
 * the prepuller's status, and each user's lab (`/labs/{user}`) and file server (`/fileservers/{user}`).
 */
export function labRoutes(deps: AppDeps) {
  const admin = { tags: ["labs"], security: bearerSecurity, middleware: requireUser(deps, Role.admin) };
  const member = { tags: ["labs"], security: bearerSecurity, middleware: requireUser(deps, Role.member) };
  const ws = workspaceOf;
  const eventsOf = async (c: Context<AppEnv>, user: string, kind: LabKind) => {
    const elsewhere = followElsewhere(deps, c.req.url);
    if (elsewhere) return c.redirect(elsewhere, 307);
    const after = resumeCursor(
      c,
      EventId,
      (c.req.valid as (t: "query") => { after?: number })("query").after,
    );
    const abort = new AbortController();
    const items = await followLabEvents(
      deps,
      c.get("user"),
      user,
      kind,
      { after, follow: true },
      abort.signal,
    );
    return followStream(
      c,
      deps.config.followKeepAliveMs,
      abort,
      (async function* () {
        for await (const m of items)
          yield {
            event: m.event.type,
            id: String(m.id),
            data: JSON.stringify({
              message: m.event.message,
              ...(m.event.progress === undefined ? {} : { progress: m.event.progress }),
            }),
          };
      })(),
      followWindow(deps),
    );
  };
  const labsOf = (kind: LabKind) => async (c: Context<AppEnv>) => {
    const q = (c.req.valid as (t: "query") => z.infer<typeof LabListQuery>)("query");
    if (kind === "fileserver") await enabledConfig(deps, ws(c), "fileserver");
    return c.json(
      await listPage(deps, c, q, { status: q.status }, (page) =>
        listLabs(deps, c.get("user"), kind, q.status, page),
      ),
      200,
    );
  };
  const fileserverView = async (p: Promise<LabView>) => {
    const v = await p;
    return { ...v, running: v.status === "running" };
  };
  return new OpenAPIHono<AppEnv>()
    .openapi(
      createRoute({
        ...admin,
        method: "get",
        path: "/labs/config",
        summary: "The workspace's lab config (404 NotConfigured before an admin writes one)",
        responses: { 200: json("the lab config", LabConfigView), ...errorResponses(401, 403, 404) },
      }),
      async (c) => c.json(await getLabConfig(deps, ws(c)), 200),
    )
    .openapi(
      createRoute({
        ...admin,
        method: "put",
        path: "/labs/config",
        summary: "Set the lab config: sizes (resource profiles), images, quota and how labs run",
        request: { body: jsonBody(PutLabConfigRequest) },
        responses: { 200: json("the lab config", LabConfigView), ...errorResponses(400, 401, 403, 409) },
      }),
      async (c) => c.json(await putLabConfig(deps, ws(c), c.req.valid("json")), 200),
    )
    .openapi(
      createRoute({
        ...admin,
        method: "get",
        path: "/labs/quotas/{user}",
        summary: "A user's lab quota: the default, their override, and what applies",
        request: { params: LabUserParam },
        responses: { 200: json("the quota", LabQuotaView), ...errorResponses(401, 403, 404) },
      }),
      async (c) => c.json(await getLabQuota(deps, ws(c), c.req.valid("param").user), 200),
    )
    .openapi(
      createRoute({
        ...admin,
        method: "put",
        path: "/labs/quotas/{user}",
        summary: "Override a user's lab quota (null takes a field back to the default)",
        request: { params: LabUserParam, body: jsonBody(SetLabQuotaRequest) },
        responses: { 200: json("the quota", LabQuotaView), ...errorResponses(400, 401, 403, 404) },
      }),
      async (c) =>
        c.json(await setLabQuota(deps, ws(c), c.req.valid("param").user, c.req.valid("json")), 200),
    )
    .openapi(
      createRoute({
        ...member,
        method: "get",
        path: "/labs/images",
        summary:
          "The image menu: the recommended image first, the menu images prepulled everywhere, the dropdown",
        responses: { 200: json("the images", LabImages), ...errorResponses(401, 404) },
      }),
      async (c) => c.json(await labImages(deps, ws(c)), 200),
    )
    .openapi(
      createRoute({
        ...member,
        method: "get",
        path: "/labs/options",
        summary: "What a spawn form needs: the images, the sizes, the default size and your quota",
        responses: { 200: json("the options", LabOptionsView), ...errorResponses(401, 404) },
      }),
      async (c) => c.json(await labOptions(deps, c.get("user")), 200),
    )
    .openapi(
      createRoute({
        ...admin,
        method: "get",
        path: "/labs/prepulls",
        summary: "The prepuller's status (Nublado's PrepullerStatus): each wanted image and each device",
        responses: { 200: json("the status", PrepullerStatus), ...errorResponses(401, 403, 404) },
      }),
      async (c) => c.json(await prepullerStatus(deps, ws(c)), 200),
    )
    .openapi(
      createRoute({
        ...member,
        method: "post",
        path: "/labs",
        summary: "Spawn your lab from the menu (one per user); follow its progress at /labs/{user}/events",
        request: { body: jsonBody(SpawnLabRequest) },
        responses: {
          201: json("the lab, pending", LabView),
          ...errorResponses(400, 401, 403, 404, 409, 429),
        },
      }),
      async (c) => {
        const lab = await spawnLab(deps, c.get("user"), c.req.valid("json"));
        c.header("Location", `/api/v1/labs/${encodeURIComponent(lab.user.username)}`);
        return c.json(lab, 201);
      },
    )
    .openapi(
      createRoute({
        ...admin,
        method: "get",
        path: "/labs",
        summary: "Every user's lab (admin), ?status=running for the running ones",
        request: { query: LabListQuery },
        responses: { 200: json("the labs", LabList), ...errorResponses(400, 401, 403) },
      }),
      labsOf("lab") as never,
    )
    .openapi(
      createRoute({
        ...member,
        method: "get",
        path: "/labs/{user}",
        summary: "A user's lab (your own; admins: anyone's): Nublado's LabState, with its URL for its owner",
        request: { params: LabUserParam },
        responses: { 200: json("the lab", LabView), ...errorResponses(401, 404) },
      }),
      async (c) => c.json(await getLab(deps, c.get("user"), c.req.valid("param").user), 200),
    )
    .openapi(
      createRoute({
        ...member,
        method: "get",
        path: "/labs/{user}/events",
        summary: "The progress of the lab's current spawn or delete (server-sent events)",
        description: EVENTS,
        request: { params: LabUserParam, query: LabEventsQuery },
        responses: {
          200: sse("events as they happen"),
          307: {
            description: "this host cannot hold a stream (AWS Lambda): the same request at Location can",
          },
          ...errorResponses(400, 401, 404, 503),
        },
      }),
      (async (c: Context<AppEnv>) =>
        eventsOf(c, (c.req.valid as (t: "param") => { user: string })("param").user, "lab")) as never,
    )
    .openapi(
      createRoute({
        ...member,
        method: "delete",
        path: "/labs/{user}",
        summary: "Delete a lab (yours; admins: anyone's); a pending spawn is canceled",
        request: { params: LabUserParam },
        responses: { 202: json("the lab, terminating", LabView), ...errorResponses(401, 404, 409) },
      }),
      async (c) => c.json(await deleteLab(deps, c.get("user"), c.req.valid("param").user), 202),
    )
    .openapi(
      createRoute({
        ...member,
        method: "post",
        path: "/fileservers",
        summary: "Your file server: made, or the one you have (idempotent)",
        responses: {
          200: json("the file server", FileserverView),
          ...errorResponses(401, 403, 404, 409, 429),
        },
      }),
      async (c) => c.json(await fileserverView(ensureFileserver(deps, c.get("user"))), 200),
    )
    .openapi(
      createRoute({
        ...admin,
        method: "get",
        path: "/fileservers",
        summary: "Every user's file server (admin)",
        request: { query: LabListQuery },
        responses: { 200: json("the file servers", LabList), ...errorResponses(400, 401, 403, 404) },
      }),
      labsOf("fileserver") as never,
    )
    .openapi(
      createRoute({
        ...member,
        method: "get",
        path: "/fileservers/{user}",
        summary: "A user's file server (Nublado's FileserverStatus, with its URL for its owner)",
        request: { params: LabUserParam },
        responses: { 200: json("the file server", FileserverView), ...errorResponses(401, 404) },
      }),
      async (c) => {
        await enabledConfig(deps, ws(c), "fileserver");
        return c.json(
          await fileserverView(getLab(deps, c.get("user"), c.req.valid("param").user, "fileserver")),
          200,
        );
      },
    )
    .openapi(
      createRoute({
        ...member,
        method: "get",
        path: "/fileservers/{user}/events",
        summary: "The progress of the file server's current start or delete (server-sent events)",
        description: EVENTS,
        request: { params: LabUserParam, query: LabEventsQuery },
        responses: { 200: sse("events as they happen"), ...errorResponses(400, 401, 404, 503) },
      }),
      (async (c: Context<AppEnv>) => {
        await enabledConfig(deps, ws(c), "fileserver");
        return eventsOf(c, (c.req.valid as (t: "param") => { user: string })("param").user, "fileserver");
      }) as never,
    )
    .openapi(
      createRoute({
        ...member,
        method: "post",
        path: "/fileservers/{user}/renew",
        summary: "Another lifetime for the file server, from now",
        request: { params: LabUserParam },
        responses: { 200: json("the file server", FileserverView), ...errorResponses(401, 404, 409) },
      }),
      async (c) =>
        c.json(await fileserverView(renewFileserver(deps, c.get("user"), c.req.valid("param").user)), 200),
    )
    .openapi(
      createRoute({
        ...member,
        method: "delete",
        path: "/fileservers/{user}",
        summary: "Delete a file server (yours; admins: anyone's)",
        request: { params: LabUserParam },
        responses: { 202: json("the file server", FileserverView), ...errorResponses(401, 404, 409) },
      }),
      async (c) => {
        await enabledConfig(deps, ws(c), "fileserver");
        return c.json(
          await fileserverView(deleteLab(deps, c.get("user"), c.req.valid("param").user, "fileserver")),
          202,
        );
      },
    );
}
