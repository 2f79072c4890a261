import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { IdParam } from "../../contracts/common.ts";
import {
  CreateReservationRequest,
  ListReservationsQuery,
  OutputPage,
  OutputQuery,
  ReservationPage,
  ReservationView,
} from "../../contracts/reservations.ts";
import { Role } from "../../domain/roles.ts";
import {
  createReservation,
  deleteReservation,
  getReservation,
  listReservations,
  reservationOutput,
} from "../../usecases/feed/reservations.ts";
import type { AppDeps } from "../deps.ts";
import type { AppEnv } from "../env.ts";
import { requireUser } from "../middleware/auth.ts";
import { bearerSecurity, errorResponses, json, jsonBody } from "../openapi.ts";
import { listPage } from "../pagination.ts";

/** `/api/v1/reservations`: signed units of work addressed to one device. Admin keys only. */
export function reservationRoutes(deps: AppDeps) {
  const common = {
    tags: ["reservations"],
    security: bearerSecurity,
    middleware: requireUser(deps, Role.admin),
  };
  return new OpenAPIHono<AppEnv>()
    .openapi(
      createRoute({
        ...common,
        method: "post",
        path: "/reservations",
        summary: "Create a reservation for a device; it is signed and appended to the device's feed",
        request: { body: jsonBody(CreateReservationRequest) },
        responses: {
          201: json("the signed reservation", ReservationView),
          ...errorResponses(400, 401, 403, 404),
        },
      }),
      async (c) => c.json(await createReservation(deps, c.get("user"), c.req.valid("json")), 201),
    )
    .openapi(
      createRoute({
        ...common,
        method: "get",
        path: "/reservations",
        summary: "List reservations, optionally of one device or in one state",
        request: { query: ListReservationsQuery },
        responses: { 200: json("a page of reservations", ReservationPage), ...errorResponses(400, 401, 403) },
      }),
      async (c) => {
        const q = c.req.valid("query");
        const filter = { nodeId: q.nodeId, state: q.state };
        return c.json(
          await listPage(deps, c, q, filter, (page) => listReservations(deps, c.get("user"), filter, page)),
          200,
        );
      },
    )
    .openapi(
      createRoute({
        ...common,
        method: "get",
        path: "/reservations/{id}",
        summary: "Get a reservation, with its result if the device sent one",
        request: { params: IdParam },
        responses: { 200: json("the reservation", ReservationView), ...errorResponses(401, 403, 404) },
      }),
      async (c) => c.json(await getReservation(deps, c.get("user"), c.req.valid("param").id), 200),
    )
    .openapi(
      createRoute({
        ...common,
        method: "delete",
        path: "/reservations/{id}",
        summary: "Ask the device to remove a reservation (marks it toDelete; again: no change)",
        request: { params: IdParam },
        responses: {
          200: json("the reservation, being removed", ReservationView),
          ...errorResponses(401, 403, 404),
        },
      }),
      async (c) => c.json(await deleteReservation(deps, c.get("user"), c.req.valid("param").id), 200),
    )
    .openapi(
      createRoute({
        ...common,
        method: "get",
        path: "/reservations/{id}/output",
        summary: "Read what the device sent of the reservation's stdout and stderr, in order",
        request: { params: IdParam, query: OutputQuery },
        responses: {
          200: json("a page of output chunks", OutputPage),
          ...errorResponses(400, 401, 403, 404),
        },
      }),
      async (c) => {
        const q = c.req.valid("query");
        const id = c.req.valid("param").id;
        return c.json(
          await listPage(deps, c, q, { id, stream: q.stream }, (page) =>
            reservationOutput(deps, c.get("user"), id, q.stream, page),
          ),
          200,
        );
      },
    );
}

export const Acknowledged = z.object({ stored: z.number(), ignored: z.number() }).openapi("OutputAccepted");
