import { z } from "@hono/zod-openapi";
import { WORKLOAD_STATES } from "../domain/application.ts";
import { jsonBytes, MAX_SPEC_BYTES } from "../domain/bounds.ts";
import { AgentReservation as AgentReservationSchema, SIGNED_FIELDS } from "../domain/feed.ts";
import { WorkloadNetwork } from "../domain/job-network.ts";
import { OutputChunk, StoredOutputChunk } from "../domain/output.ts";
import {
  RESERVATION_STATES,
  RESERVATION_TYPES,
  ReservationResult,
  USER_RESERVATION_TYPES,
} from "../domain/reservation.ts";
import { RESERVATION_DATA } from "../domain/reservation-data.ts";
import { Id, PageQuery, pageOf, text } from "./common.ts";

/** Whole seconds, at most 365 days. */
export const MAX_RESERVATION_SECONDS = 365 * 24 * 3600;

const Duration = z
  .number({ error: "must be a whole number of seconds" })
  .int("must be a whole number of seconds")
  .min(1, "must be at least 1 second")
  .max(MAX_RESERVATION_SECONDS, `must be at most ${MAX_RESERVATION_SECONDS} seconds (365 days)`);

const create = <T extends (typeof USER_RESERVATION_TYPES)[number]>(type: T) =>
  z
    .object({
      nodeId: Id,
      type: z.literal(type),
      data: RESERVATION_DATA[type],
      duration: Duration,
    })
    // Stored as JSON text in the reservation, its feed entry and (echoed) its result: bounded as a whole.
    .refine((r) => jsonBytes((r as { data: unknown }).data) <= MAX_SPEC_BYTES, {
      path: ["data"],
      message: `must be at most ${MAX_SPEC_BYTES} bytes as JSON`,
    });

/** `POST /api/v1/reservations`: `data` is validated against the schema of its `type`. */
export const CreateReservationRequest = z
  .discriminatedUnion(
    "type",
    [create("process"), create("container"), create("volume"), create("prepull"), create("debug")],
    { error: `type must be one of ${USER_RESERVATION_TYPES.join(", ")}` },
  )
  .openapi("CreateReservationRequest");
export type CreateReservationRequest = z.infer<typeof CreateReservationRequest>;

/** What an agent receives (domain/feed.ts), as the API documents it. */
export const AgentReservation = AgentReservationSchema.extend({}).openapi("AgentReservation");
export type AgentReservation = z.infer<typeof AgentReservation>;
export { CONTROL_ACTIONS, type ControlAction, ReservationControl } from "../domain/feed.ts";

/** What a user sees: the signed reservation plus its state and result. */
export const ReservationView = z
  .object({
    ...SIGNED_FIELDS,
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
  nodeId: Id.optional().openapi({ param: { name: "nodeId", in: "query" } }),
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
    pollAfterSeconds: z.number().int().optional().openapi({
      description:
        "short polling (a control plane that does not hold polls): come back after this many seconds, not at once",
    }),
    serverTime: z.string(),
    limits: z
      .object({
        bodyBytes: z.number().int().openapi({ description: "request bodies above this are refused (413)" }),
      })
      .openapi({ description: "what this control plane accepts: agents size their output batches under it" }),
    sync: z
      .object({ at: z.string(), ids: z.array(z.string()), signature: z.string() })
      .optional()
      .openapi({
        description:
          "protocol 2, boot sync (from=0) only: the ids answered are all the device should have at `at`, " +
          "signed; an agent drops what it runs for not being listed only on a list that verifies",
      }),
  })
  .openapi("PollResponse");
export type PollResponse = z.infer<typeof PollResponse>;

/** A result's error message; with its data and the reservation's own, the reservation item stays near half full. */
export const MAX_RESULT_ERROR_BYTES = 32 * 1024;

/** `PUT /api/v1/agent/reservations/{id}/result`: signed by the node's key over id+state+error+data. */
export const ResultRequest = z
  .object({
    id: Id,
    type: z.enum(RESERVATION_TYPES),
    created: z.string().max(64),
    state: z.enum(["ok", "error"]),
    error: text(MAX_RESULT_ERROR_BYTES).default(""),
    // A debug reservation's result echoes its data: room for all of it.
    data: text(MAX_SPEC_BYTES).default("{}").openapi({ description: "JSON text, exactly as signed" }),
    signature: z.string().max(1024).default(""),
    outputPending: z
      .boolean()
      .default(false)
      .openapi({
        description:
          "true: the workload ended but some of its output is still on its way; the agent says when all of it " +
          "is there with an output request `{chunks, last: true}`. Until then a job's output is not complete.",
      }),
  })
  .openapi("ResultRequest");
export type ResultRequest = z.infer<typeof ResultRequest>;

/** `POST /api/v1/agent/reservations/{id}/status`: the workload started (process id when it has one), or a lab's step. */
export const StatusReport = z
  .object({
    /**
     * `running`: the workload started. A lab's workload (specs/labs.md §5) also reports `pulling` (its image,
     * before it starts: `message`) and `ready` (it answered on `hostPort`); `running` then carries `hostPort`.
     */
    state: z.enum(["running", "pulling", "ready"]),
    message: z.string().max(500).optional(),
    hostPort: z.number().int().min(1).max(65535).optional(),
    pid: z.number().int().positive().optional(),
    /**
     * A container job's IPs and published ports (`docker inspect`), with `running`; sent again with `running`
     * when a restarted agent finds them changed (specs/launcher-extras.md §2).
     */
    network: WorkloadNetwork.optional(),
    /** An application's containers (or programs), each as Synpse's WorkloadStatus: sent on every change. */
    containers: z
      .array(
        z.object({
          name: z.string().max(31),
          state: z.enum(WORKLOAD_STATES),
          message: z.string().max(1000).default(""),
          restartCount: z.number().int().min(0).default(0),
          exitCode: z.number().int().optional(),
          startedAt: z.string().max(40).optional(),
        }),
      )
      .max(8)
      .optional(),
  })
  .openapi("StatusReport");
export type StatusReport = z.infer<typeof StatusReport>;

export { OutputChunk };

/**
 * One chunk `{stream, seq, data}`, or a batch `{chunks: [...], last?}` (at most 500). `last: true` says the
 * workload's output is all there (after a result sent with `outputPending`); then `chunks` may be empty.
 */
export const OutputRequest = z
  .union([
    OutputChunk,
    z
      .object({ chunks: z.array(OutputChunk).max(500), last: z.boolean().default(false) })
      .refine((b) => b.last || b.chunks.length > 0, {
        path: ["chunks"],
        message: "must hold at least one chunk (or say last: true)",
      }),
  ])
  .openapi("OutputRequest");

export const OutputQuery = PageQuery.extend({
  stream: z
    .enum(["stdout", "stderr", "mixed"])
    .default("mixed")
    .openapi({ param: { name: "stream", in: "query" } }),
});
export const StoredChunk = StoredOutputChunk.extend({}).openapi("OutputChunk");
export const OutputPage = pageOf(StoredChunk).openapi("OutputPage");
