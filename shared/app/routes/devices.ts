import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { Id, IdParam } from "../../contracts/common.ts";
import {
  DeviceOperationList,
  DeviceOperationView,
  DevicePage,
  DeviceView,
  DrainDeviceRequest,
  ListDevicesQuery,
  RebootDeviceQuery,
  RebootDeviceRequest,
  UpdateDeviceRequest,
} from "../../contracts/devices.ts";
import { invalidRequest } from "../../domain/errors.ts";
import { type Labels, normalizeLabels } from "../../domain/labels.ts";
import { Role } from "../../domain/roles.ts";
import {
  cordonDevice,
  deleteDevice,
  drainDevice,
  getDevice,
  listDevices,
  updateDevice,
} from "../../usecases/identity/devices.ts";
import { deviceOperation, deviceOperations, rebootDevice } from "../../usecases/identity/operations.ts";
import type { AppDeps } from "../deps.ts";
import type { AppEnv } from "../env.ts";
import { errorResponses, json, jsonBody } from "../openapi.ts";
import { listPage } from "../pagination.ts";
import { access, workspaceOf } from "./access.ts";

/** The label selector of a list: repeated `label=key=value` and/or a `labels` JSON object. */
function selector(label: string | string[] | undefined, labelsJson: string | undefined): Labels | undefined {
  // No prototype: a key such as `__proto__` or `constructor` is just a (bad) label name here.
  const pairs: Record<string, string> = Object.create(null);
  for (const item of label === undefined ? [] : Array.isArray(label) ? label : [label]) {
    const eq = item.indexOf("=");
    if (eq <= 0) {
      throw invalidRequest(`invalid label filter "${item}": expected key=value`, [
        { path: "label", message: "expected key=value" },
      ]);
    }
    pairs[item.slice(0, eq)] = item.slice(eq + 1);
  }
  if (labelsJson !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(labelsJson);
    } catch {
      parsed = undefined;
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw invalidRequest('invalid labels filter: expected a JSON object like {"gpu":"a100"}', [
        { path: "labels", message: "expected a JSON object" },
      ]);
    }
    Object.assign(pairs, parsed);
  }
  if (Object.keys(pairs).length === 0) return undefined;
  const check = normalizeLabels(pairs, Number.POSITIVE_INFINITY);
  if (!check.ok)
    throw invalidRequest(`invalid label filter: ${check.error}`, [{ path: "label", message: check.error }]);
  return check.labels;
}

/** `/api/v1/devices`: the fleet. Members may read; changes need an admin key. */
export function deviceRoutes(deps: AppDeps) {
  const { read, write } = access(deps, "devices");
  const ws = workspaceOf;
  /** A member key sees devices without the environment their workloads inherit (its values may be secrets). */
  const forViewer = <D extends { environmentVariables?: unknown }>(
    c: { get(k: "user"): { role: string } },
    d: D,
  ): D => {
    if (c.get("user").role === Role.admin) return d;
    const { environmentVariables: _, ...rest } = d;
    return rest as D;
  };
  return new OpenAPIHono<AppEnv>()
    .openapi(
      createRoute({
        ...read,
        method: "get",
        path: "/devices",
        summary: "List devices, filtered by labels, node group, status or a search string",
        request: { query: ListDevicesQuery },
        responses: { 200: json("a page of devices", DevicePage), ...errorResponses(400, 401) },
      }),
      async (c) => {
        const q = c.req.valid("query");
        const filter = {
          labels: selector(q.label, q.labels),
          nodeGroup: q.nodeGroup,
          status: q.status,
          search: q.search,
          health: q.health,
        };
        return c.json(
          await listPage(deps, c, q, filter, async (page) => {
            const result = await listDevices(deps, ws(c), filter, page);
            return { ...result, items: result.items.map((d) => forViewer(c, d)) };
          }),
          200,
        );
      },
    )
    .openapi(
      createRoute({
        ...read,
        method: "get",
        path: "/devices/{id}",
        summary: "Get a device",
        request: { params: IdParam },
        responses: { 200: json("the device", DeviceView), ...errorResponses(401, 404) },
      }),
      async (c) => c.json(forViewer(c, await getDevice(deps, ws(c), c.req.valid("param").id)), 200),
    )
    .openapi(
      createRoute({
        ...write,
        method: "patch",
        path: "/devices/{id}",
        summary: "Rename or relabel a device (labels: the complete new set)",
        request: { params: IdParam, body: jsonBody(UpdateDeviceRequest) },
        responses: { 200: json("the updated device", DeviceView), ...errorResponses(400, 401, 403, 404) },
      }),
      async (c) => c.json(await updateDevice(deps, ws(c), c.req.valid("param").id, c.req.valid("json")), 200),
    )
    .openapi(
      createRoute({
        ...write,
        method: "delete",
        path: "/devices/{id}",
        summary: "Delete a device; its agent's next call is a 401",
        request: { params: IdParam },
        responses: { 204: { description: "deleted" }, ...errorResponses(401, 403, 404) },
      }),
      async (c) => {
        await deleteDevice(deps, ws(c), c.req.valid("param").id);
        return c.body(null, 204);
      },
    )
    .openapi(
      createRoute({
        ...write,
        method: "post",
        path: "/devices/{id}/cordon",
        summary: "Cordon a device: no new jobs are placed on it; its running jobs carry on",
        request: { params: IdParam },
        responses: { 200: json("the device", DeviceView), ...errorResponses(401, 403, 404) },
      }),
      async (c) => c.json(await cordonDevice(deps, ws(c), c.req.valid("param").id, true), 200),
    )
    .openapi(
      createRoute({
        ...write,
        method: "post",
        path: "/devices/{id}/uncordon",
        summary: "Make a cordoned or draining device eligible for new jobs again (ends a drain)",
        request: { params: IdParam },
        responses: { 200: json("the device", DeviceView), ...errorResponses(401, 403, 404) },
      }),
      async (c) => c.json(await cordonDevice(deps, ws(c), c.req.valid("param").id, false), 200),
    )
    .openapi(
      createRoute({
        ...write,
        method: "post",
        path: "/devices/{id}/drain",
        summary:
          "Drain a device: no new jobs; its running jobs may finish until the deadline, then are stopped",
        description:
          "As Nomad's node drain. The device stays cordoned when the drain is over (uncordon to use it again). " +
          "Draining again replaces the deadline.",
        request: {
          params: IdParam,
          // Optional: without a body, the default deadline (an hour).
          body: { required: false, content: { "application/json": { schema: DrainDeviceRequest } } },
        },
        responses: { 200: json("the device", DeviceView), ...errorResponses(400, 401, 403, 404) },
      }),
      async (c) => {
        const { deadlineSeconds } = DrainDeviceRequest.parse(c.req.valid("json") ?? {});
        return c.json(await drainDevice(deps, ws(c), c.req.valid("param").id, deadlineSeconds), 200);
      },
    )
    .openapi(
      createRoute({
        ...write,
        method: "post",
        path: "/devices/{id}/reboot",
        summary:
          "Reboot a device: a signed operation its agent honours only when started with --allow-reboot",
        description:
          "202 with the operation. It reaches the device on its feed and is done once the agent is back " +
          "after the reboot (a new boot id); an agent without --allow-reboot rejects it; one that has not " +
          "started it within 10 minutes never does. A device running jobs is 409 DeviceBusy unless force=true.",
        request: {
          params: IdParam,
          query: RebootDeviceQuery,
          body: { required: false, content: { "application/json": { schema: RebootDeviceRequest } } },
        },
        responses: {
          202: json("the operation", DeviceOperationView),
          ...errorResponses(400, 401, 403, 404, 409),
        },
      }),
      async (c) => {
        const { reason } = RebootDeviceRequest.parse(c.req.valid("json") ?? {});
        const { force } = c.req.valid("query");
        return c.json(
          await rebootDevice(deps, c.get("user"), c.req.valid("param").id, { reason, force }),
          202,
        );
      },
    )
    .openapi(
      createRoute({
        ...read,
        method: "get",
        path: "/devices/{id}/operations",
        summary: "A device's operations (reboots), newest first",
        request: { params: IdParam },
        responses: { 200: json("its operations", DeviceOperationList), ...errorResponses(401, 404) },
      }),
      async (c) => c.json(await deviceOperations(deps, ws(c), c.req.valid("param").id), 200),
    )
    .openapi(
      createRoute({
        ...read,
        method: "get",
        path: "/devices/{id}/operations/{op}",
        summary: "One operation of a device",
        request: { params: OperationParams },
        responses: { 200: json("the operation", DeviceOperationView), ...errorResponses(401, 404) },
      }),
      async (c) => {
        const { id, op } = c.req.valid("param");
        return c.json(await deviceOperation(deps, ws(c), id, op), 200);
      },
    );
}

const OperationParams = IdParam.extend({
  op: Id.openapi({ param: { name: "op", in: "path" } }),
});
