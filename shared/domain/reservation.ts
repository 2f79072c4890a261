import { z } from "zod";
import { WorkloadNetwork } from "./job-network.ts";
import { type Patch, stateMachine, type Transition } from "./state-machine.ts";

/**
 * Reservation lifecycle, as data. A reservation is created `pending`, becomes `delivered` when a poll
 * hands it to its device, and takes the state of the device's result (`ok` | `error`). A user delete
 * makes it `toDelete`, the sweeper `expired`; the device's acknowledgement makes it `deleted`.
 * The result is stored once, independently of the state (a process may exit while it is being removed).
 */
export const ReservationState = {
  pending: "pending",
  delivered: "delivered",
  ok: "ok",
  error: "error",
  toDelete: "toDelete",
  expired: "expired",
  deleted: "deleted",
} as const;
export type ReservationState = (typeof ReservationState)[keyof typeof ReservationState];
export const RESERVATION_STATES = Object.values(ReservationState) as [
  ReservationState,
  ...ReservationState[],
];

const S = ReservationState;
export const RESERVATION_TRANSITIONS = {
  pending: [S.delivered, S.ok, S.error, S.toDelete, S.expired, S.deleted],
  delivered: [S.ok, S.error, S.toDelete, S.expired, S.deleted],
  ok: [S.toDelete, S.expired, S.deleted],
  error: [S.toDelete, S.expired, S.deleted],
  toDelete: [S.deleted],
  expired: [S.deleted],
  deleted: [],
} as const satisfies Record<ReservationState, readonly ReservationState[]>;

export const ReservationMachine = stateMachine<ReservationState>("reservation", RESERVATION_TRANSITIONS);
export const canTransition = (from: ReservationState, to: ReservationState): boolean =>
  ReservationMachine.canMove(from, to);

/** States in which the device should have (or run) the reservation. */
export const LIVE_STATES = [S.pending, S.delivered, S.ok, S.error] as const;
/** States awaiting the device's acknowledgement of a removal. */
export const REMOVAL_STATES = [S.toDelete, S.expired] as const;

export const isLive = (s: ReservationState) => (LIVE_STATES as readonly string[]).includes(s);
export const isRemoval = (s: ReservationState) => (REMOVAL_STATES as readonly string[]).includes(s);
export const isFinal = (s: ReservationState) => s === S.deleted;

export const RESERVATION_TYPES = [
  "container",
  "process",
  "volume",
  "prepull",
  "debug",
  "application",
  "operation",
] as const;
/**
 * What `POST /api/v1/reservations` makes: applications' reservations are the reconciler's alone, and device
 * operations (a reboot) go through their own route.
 */
export const USER_RESERVATION_TYPES = ["container", "process", "volume", "prepull", "debug"] as const;
export type ReservationType = (typeof RESERVATION_TYPES)[number];

/** Types that run once: after an `ok` result a boot sync does not hand them out again. */
export const ONE_SHOT_TYPES: readonly ReservationType[] = ["process", "prepull", "debug", "operation"];

/** A device's result, kept as received (data is the JSON text the node signed). */
export const ReservationResult = z.object({
  state: z.enum(["ok", "error"]),
  error: z.string(),
  data: z.string(),
  created: z.string(),
  signature: z.string(),
  receivedAt: z.iso.datetime(),
});
export type ReservationResult = z.infer<typeof ReservationResult>;

/** A reservation as stored. `data` is the exact JSON text that was signed and is delivered. */
export const Reservation = z.object({
  id: z.string(),
  nodeId: z.string(),
  workspaceId: z.string(),
  user: z.string(),
  type: z.enum(RESERVATION_TYPES),
  data: z.string(),
  created: z.iso.datetime(),
  duration: z.number().int().positive(),
  signature: z.string(),
  /** Protocol 2: over the canonical bytes of id and the signed fields, made at creation (absent: older). */
  signatureV2: z.string().optional(),
  state: z.enum(RESERVATION_STATES),
  version: z.number().int(),
  /** Feed sequence of its apply entry. */
  seq: z.number().int(),
  /** Feed sequence of its removal entry, once removed. */
  removeSeq: z.number().int().optional(),
  result: ReservationResult.optional(),
  /** When the node reported the workload started, and its pid. */
  startedAt: z.iso.datetime().optional(),
  pid: z.number().int().optional(),
  /** A container's IPs and published ports, as its agent reported them with its start (or after a restart). */
  network: WorkloadNetwork.optional(),
  /** The result came before all of the output: set with the result, cleared by the agent's `last` output. */
  outputPending: z.boolean().optional(),
  jobId: z.string().optional(),
  expiresAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
  deletedAt: z.iso.datetime().optional(),
});
export type Reservation = z.infer<typeof Reservation>;

export const expiresAt = (created: string, duration: number): string =>
  new Date(Date.parse(created) + duration * 1000).toISOString();

/** Strict: a reservation is expired only once `now > created + duration`. */
export const isExpired = (r: { created: string; duration: number }, now: Date): boolean =>
  now.getTime() > Date.parse(r.created) + r.duration * 1000;

/** Fields a reservation write may change besides its state (identity and signed fields excluded). */
export type ReservationPatch = Patch<
  Pick<Reservation, "removeSeq" | "deletedAt" | "result" | "startedAt" | "pid" | "network" | "outputPending">
>;
export type ReservationTransition = Transition<ReservationState, ReservationPatch>;
export type ReservationChange = ReservationPatch | ReservationTransition;

/** Moves a reservation to `to` (checked against RESERVATION_TRANSITIONS), with `patch`. */
export const moveReservation = (
  r: Pick<Reservation, "state">,
  to: ReservationState,
  patch: ReservationPatch = {},
): ReservationTransition => ReservationMachine.transition(r.state, to, patch);
