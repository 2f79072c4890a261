import { z } from "@hono/zod-openapi";
import { RESERVATION_STATES, RESERVATION_TYPES, ReservationResult } from "../domain/reservation.ts";
import { RESERVATION_DATA } from "../domain/reservation-data.ts";
import { PageQuery, pageOf } from "./common.ts";

/** Whole seconds, at most 365 days. */
export const MAX_RESERVATION_SECONDS = 365 * 24 * 3600;

const Duration = z
  .number({ error: "must be a whole number of seconds" })
  .int("must be a whole number of seconds")
  .min(1, "must be at least 1 second")
  .max(MAX_RESERVATION_SECONDS, `must be at most ${MAX_RESERVATION_SECONDS} seconds (365 days)`);

const create = <T extends (typeof RESERVATION_TYPES)[number]>(type: T) =>
  z.object({
    nodeId: z.string().min(1, "must name a device"),
    type: z.literal(type),
    data: RESERVATION_DATA[type],
    duration: Duration,
  });

/** `POST /api/v1/reservations`: `data` is validated against the schema of its `type`. */
export const CreateReservationRequest = z
  .discriminatedUnion(
    "type",
    [create("process"), create("container"), create("volume"), create("prepull"), create("debug")],
    { error: `type must be one of ${RESERVATION_TYPES.join(", ")}` },
  )
  .openapi("CreateReservationRequest");
export type CreateReservationRequest = z.infer<typeof CreateReservationRequest>;

const SignedFields = {
  id: z.string(),
  nodeId: z.string(),
  workspaceId: z.string(),
  user: z.string(),
  type: z.enum(RESERVATION_TYPES),
  data: z.string().openapi({ description: "the payload as JSON text, exactly as signed" }),
  created: z.string().openapi({ description: "RFC 3339" }),
  duration: z.number().openapi({ description: "whole seconds; expires when now > created + duration" }),
  signature: z.string().openapi({
    description: "base64 ed25519 by the control plane over nodeId+workspaceId+type+data+created+duration",
  }),
};

export const CONTROL_ACTIONS = ["suspend", "resume", "stop", "kill"] as const;
export type ControlAction = (typeof CONTROL_ACTIONS)[number];

/** A control operation on a running workload, signed by the control plane over id + action + issuedAt. */
export const ReservationControl = z.object({
  action: z.enum(CONTROL_ACTIONS),
  issuedAt: z.string(),
  signature: z.string(),
});

/**
 * What an agent receives: the signed fields, `toDelete`, and the feed sequence it came with. With `control`,
 * the entry is not the reservation itself but an operation on its workload (suspend, resume, stop, kill).
 */
export const AgentReservation = z
  .object({
    ...SignedFields,
    toDelete: z.boolean(),
    seq: z.number().optional(),
    control: ReservationControl.optional(),
  })
  .openapi("AgentReservation");
export type AgentReservation = z.infer<typeof AgentReservation>;

/** What a user sees: the signed reservation plus its state and result. */
export const ReservationView = z
  .object({
    ...SignedFields,
    toDelete: z.boolean(),
    state: z.enum(RESERVATION_STATES),
    version: z.number(),
    expiresAt: z.string(),
    updatedAt: z.string(),
    deletedAt: z.string().optional(),
    jobId: z.string().optional(),
    result: ReservationResult.omit({ receivedAt: true }).extend({ receivedAt: z.string() }).optional(),
  })
  .openapi("Reservation");
export type ReservationView = z.infer<typeof ReservationView>;

export const ListReservationsQuery = PageQuery.extend({
  nodeId: z
    .string()
    .optional()
    .openapi({ param: { name: "nodeId", in: "query" } }),
  state: z
    .enum(RESERVATION_STATES)
    .optional()
    .openapi({ param: { name: "state", in: "query" } }),
});
export const ReservationPage = pageOf(ReservationView).openapi("ReservationPage");

const WholeNumber = (name: string) =>
  z
    .string()
    .regex(/^[0-9]+$/, `${name} must be a non-negative whole number`)
    .transform(Number)
    .refine(Number.isSafeInteger, `${name} is too large`);

/** `GET /api/v1/agent/reservations?from=&wait=` */
export const PollQuery = z.object({
  from: WholeNumber("from").openapi({ param: { name: "from", in: "query" }, description: "0 = boot sync" }),
  wait: WholeNumber("wait")
    .optional()
    .openapi({
      param: { name: "wait", in: "query" },
      description: "seconds to wait (clamped to the server's cap)",
    }),
});

export const PollResponse = z
  .object({
    reservations: z.array(AgentReservation),
    next: z.number().openapi({ description: "poll again with from=next; 0 means: boot sync again" }),
    waitHintSeconds: z.number().openapi({ description: "the wait to ask for next time" }),
    serverTime: z.string(),
  })
  .openapi("PollResponse");
export type PollResponse = z.infer<typeof PollResponse>;

/** `PUT /api/v1/agent/reservations/{id}/result`: signed by the node's key over id+state+error+data. */
export const ResultRequest = z
  .object({
    id: z.string(),
    type: z.enum(RESERVATION_TYPES),
    created: z.string(),
    state: z.enum(["ok", "error"]),
    error: z
      .string()
      .max(64 * 1024)
      .default(""),
    data: z
      .string()
      .max(256 * 1024)
      .default("{}")
      .openapi({ description: "JSON text, exactly as signed" }),
    signature: z.string().default(""),
  })
  .openapi("ResultRequest");
export type ResultRequest = z.infer<typeof ResultRequest>;

/** `POST /api/v1/agent/reservations/{id}/status`: the workload started (process id when it has one). */
export const StatusReport = z
  .object({ state: z.literal("running"), pid: z.number().int().positive().optional() })
  .openapi("StatusReport");
export type StatusReport = z.infer<typeof StatusReport>;

export const OutputChunk = z.object({
  stream: z.enum(["stdout", "stderr"]),
  seq: z.number().int().min(1),
  data: z.string().max(256 * 1024),
});
export type OutputChunk = z.infer<typeof OutputChunk>;

/** One chunk `{stream, seq, data}`, or a batch `{chunks: [...]}` (at most 500). */
export const OutputRequest = z
  .union([OutputChunk, z.object({ chunks: z.array(OutputChunk).min(1).max(500) })])
  .openapi("OutputRequest");

export const OutputQuery = PageQuery.extend({
  stream: z
    .enum(["stdout", "stderr", "mixed"])
    .default("mixed")
    .openapi({ param: { name: "stream", in: "query" } }),
});
export const StoredChunk = OutputChunk.extend({ receivedAt: z.string() }).openapi("OutputChunk");
export const OutputPage = pageOf(StoredChunk).openapi("OutputPage");
