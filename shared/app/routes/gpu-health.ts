import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { createMiddleware } from "hono/factory";
import { IdParam } from "../../contracts/common.ts";
import { DeviceOperationView } from "../../contracts/devices.ts";
import {
  DeviceHealthView,
  HealthEventPage,
  HealthEventsQuery,
  HealthReportAck,
  HealthReportRequest,
  HealthSettingsView,
  SetHealthyRequest,
  XidList,
  XidParam,
  XidView,
} from "../../contracts/gpu-health.ts";
import { BerthError, ErrorCode, notFound } from "../../domain/errors.ts";
import { MAX_REPORT_BYTES } from "../../domain/gpu-health.ts";
import { XID_CATALOG, xidDetail } from "../../domain/xid-catalog.ts";
import {
  deviceHealth,
  deviceHealthEvents,
  healthSettings,
  putHealthSettings,
  reportHealth,
  setHealthy,
} from "../../usecases/health/health.ts";
import type { AppDeps } from "../deps.ts";
import type { AppEnv } from "../env.ts";
import { requireDevice } from "../middleware/device-auth.ts";
import { bearerSecurity, errorResponses, json, jsonBody } from "../openapi.ts";
import { listPage } from "../pagination.ts";
import { access, workspaceOf } from "./access.ts";

/** GPU health (specs/gpu-health.md): the agent's reports, and what users read and do with them. */
export function gpuHealthRoutes(deps: AppDeps) {
  const { read, write } = access(deps, "health");
  // The app's body limit is larger; the JSON guard has read (and cached) the body already.
  const limit = createMiddleware<AppEnv>(async (c, next) => {
    if (Buffer.byteLength(await c.req.text()) > MAX_REPORT_BYTES)
      throw new BerthError(
        ErrorCode.PayloadTooLarge,
        `a health report is at most ${MAX_REPORT_BYTES} bytes; send fewer events or states`,
      );
    await next();
  });
  return new OpenAPIHono<AppEnv>()
    .openapi(
      createRoute({
        tags: ["agents"],
        security: bearerSecurity,
        middleware: [limit, requireDevice(deps)] as const,
        method: "post",
        path: "/agent/health",
        summary: "Report the device's GPU health (GPUd's states and events); stored only if newer",
        request: { body: jsonBody(HealthReportRequest) },
        responses: {
          200: json("stored, or older than what is", HealthReportAck),
          ...errorResponses(400, 401, 413),
        },
      }),
      async (c) => c.json(await reportHealth(deps, c.get("device"), c.req.valid("json")), 200),
    )
    .openapi(
      createRoute({
        ...read,
        method: "get",
        path: "/devices/{id}/health",
        summary: "A device's GPU health: its summary and the components of its last report",
        request: { params: IdParam },
        responses: { 200: json("its health", DeviceHealthView), ...errorResponses(401, 404) },
      }),
      async (c) => c.json(await deviceHealth(deps, workspaceOf(c), c.req.valid("param").id), 200),
    )
    .openapi(
      createRoute({
        ...read,
        method: "get",
        path: "/devices/{id}/health/events",
        summary: "A device's health events (Xids, reboots, ...), newest first; kept 30 days",
        request: { params: IdParam, query: HealthEventsQuery },
        responses: { 200: json("a page of events", HealthEventPage), ...errorResponses(400, 401, 404) },
      }),
      async (c) => {
        const { id } = c.req.valid("param");
        const q = c.req.valid("query");
        const filter = { since: q.since, component: q.component, type: q.type };
        return c.json(
          await listPage(deps, c, q, { id, ...filter }, (page) =>
            deviceHealthEvents(deps, workspaceOf(c), id, filter, page),
          ),
          200,
        );
      },
    )
    .openapi(
      createRoute({
        ...write,
        method: "post",
        path: "/devices/{id}/health/set-healthy",
        summary: "Set components healthy: a signed operation; the agent forgets their events up to now",
        description:
          "202 with the operation (berth devices operations). A new Xid after the operation was issued " +
          "survives it. Only GPUd's settable components; 400 RequestNotSupported for a device without Berth's agent.",
        request: {
          params: IdParam,
          body: { required: false, content: { "application/json": { schema: SetHealthyRequest } } },
        },
        responses: {
          202: json("the operation", DeviceOperationView),
          ...errorResponses(400, 401, 403, 404, 409),
        },
      }),
      async (c) => {
        const body = SetHealthyRequest.parse(c.req.valid("json") ?? {});
        return c.json(await setHealthy(deps, c.get("user"), c.req.valid("param").id, body), 202);
      },
    )
    .openapi(
      createRoute({
        ...read,
        method: "get",
        path: "/health/xids",
        summary: "NVIDIA's Xid catalog as GPUd's rules read it (type, repair actions, reboot threshold)",
        responses: { 200: json("every Xid", XidList), ...errorResponses(401) },
      }),
      (c) => c.json({ items: [...XID_CATALOG] }, 200),
    )
    .openapi(
      createRoute({
        ...read,
        method: "get",
        path: "/health/xids/{code}",
        summary: "One Xid: what it means and what it does to a GPU's health",
        request: { params: XidParam },
        responses: { 200: json("the Xid", XidView), ...errorResponses(400, 401, 404) },
      }),
      (c) => {
        const { code } = c.req.valid("param");
        const xid = xidDetail(code);
        if (!xid)
          throw notFound(
            `Xid ${code} is not in the catalog; unknown Xids count as Warning and never make a GPU Unhealthy`,
          );
        return c.json(xid, 200);
      },
    )
    .openapi(
      createRoute({
        ...read,
        method: "get",
        path: "/health/settings",
        summary: "How placement treats GPU health in this workspace",
        responses: { 200: json("the settings", HealthSettingsView), ...errorResponses(401) },
      }),
      async (c) => c.json(await healthSettings(deps, workspaceOf(c)), 200),
    )
    .openapi(
      createRoute({
        ...write,
        method: "put",
        path: "/health/settings",
        summary: "Set how placement treats GPU health (exclude-unhealthy or ignore)",
        request: { body: jsonBody(HealthSettingsView) },
        responses: { 200: json("the settings", HealthSettingsView), ...errorResponses(400, 401, 403) },
      }),
      async (c) => c.json(await putHealthSettings(deps, workspaceOf(c), c.req.valid("json")), 200),
    );
}
