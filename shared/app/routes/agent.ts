import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { HeartbeatRequest, HeartbeatResponse } from "../../contracts/agent.ts";
import { IdParam } from "../../contracts/common.ts";
import {
  OutputRequest,
  PollQuery,
  PollResponse,
  ReservationView,
  ResultRequest,
  StatusReport,
} from "../../contracts/reservations.ts";
import {
  acknowledgeDeleted,
  appendOutput,
  recordResult,
  reportStatus,
} from "../../usecases/feed/feedback.ts";
import { pollFeed } from "../../usecases/feed/poll.ts";
import { heartbeat } from "../../usecases/identity/device-session.ts";
import type { AppDeps } from "../deps.ts";
import type { AppEnv } from "../env.ts";
import { requireDevice } from "../middleware/device-auth.ts";
import { bearerSecurity, errorResponses, json, jsonBody } from "../openapi.ts";
import { Acknowledged } from "./reservations.ts";

/**
 * `/api/v1/agent/*`: the node agent's routes, authenticated by its session token. The device is always
 * the token's: an agent can only read and answer its own feed.
 */
export function agentRoutes(deps: AppDeps) {
  const common = { tags: ["agents"], security: bearerSecurity, middleware: requireDevice(deps) };
  return new OpenAPIHono<AppEnv>()
    .openapi(
      createRoute({
        ...common,
        method: "post",
        path: "/agent/heartbeat",
        summary: "Report liveness (and machine info when it changed)",
        request: { body: jsonBody(HeartbeatRequest) },
        responses: { 200: json("acknowledged", HeartbeatResponse), ...errorResponses(400, 401) },
      }),
      async (c) => c.json(await heartbeat(deps, c.get("device"), c.req.valid("json")), 200),
    )
    .openapi(
      createRoute({
        ...common,
        method: "get",
        path: "/agent/reservations",
        summary: "Long-poll the device's reservation feed (from=0: boot sync)",
        request: { query: PollQuery },
        responses: {
          200: json("entries from the cursor, or none after the wait", PollResponse),
          ...errorResponses(400, 401),
        },
      }),
      async (c) => c.json(await pollFeed(deps, c.get("device"), c.req.valid("query"), c.req.raw.signal), 200),
    )
    .openapi(
      createRoute({
        ...common,
        method: "put",
        path: "/agent/reservations/{id}/result",
        summary: "Report a signed result (the same result again: 200; a different one after it: 409)",
        request: { params: IdParam, body: jsonBody(ResultRequest) },
        responses: {
          200: json("the reservation with its result", ReservationView),
          ...errorResponses(400, 401, 404, 409),
        },
      }),
      async (c) =>
        c.json(await recordResult(deps, c.get("device"), c.req.valid("param").id, c.req.valid("json")), 200),
    )
    .openapi(
      createRoute({
        ...common,
        method: "post",
        path: "/agent/reservations/{id}/status",
        summary: "Report that the workload started (and its pid); a job on it becomes Running",
        request: { params: IdParam, body: jsonBody(StatusReport) },
        responses: { 200: json("the reservation", ReservationView), ...errorResponses(400, 401, 404) },
      }),
      async (c) =>
        c.json(await reportStatus(deps, c.get("device"), c.req.valid("param").id, c.req.valid("json")), 200),
    )
    .openapi(
      createRoute({
        ...common,
        method: "put",
        path: "/agent/reservations/{id}/deleted",
        summary: "Report that the device decommissioned a reservation (idempotent)",
        request: { params: IdParam },
        responses: { 200: json("the deleted reservation", ReservationView), ...errorResponses(401, 404) },
      }),
      async (c) => c.json(await acknowledgeDeleted(deps, c.get("device"), c.req.valid("param").id), 200),
    )
    .openapi(
      createRoute({
        ...common,
        method: "post",
        path: "/agent/reservations/{id}/output",
        summary: "Send stdout/stderr chunks ({stream, seq, data}); a seq already stored is ignored",
        request: { params: IdParam, body: jsonBody(OutputRequest) },
        responses: { 200: json("how many chunks were new", Acknowledged), ...errorResponses(400, 401, 404) },
      }),
      async (c) => {
        const body = c.req.valid("json");
        const [chunks, last] = "chunks" in body ? [body.chunks, body.last] : [[body], false];
        return c.json(await appendOutput(deps, c.get("device"), c.req.valid("param").id, chunks, last), 200);
      },
    );
}
