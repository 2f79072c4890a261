import type {
  AgentReservation,
  ControlAction,
  CreateReservationRequest,
  ReservationView,
} from "../contracts/reservations.ts";
import { notFound } from "../domain/errors.ts";
import { newId } from "../domain/ids.ts";
import type { UserPrincipal } from "../domain/principal.ts";
import {
  expiresAt,
  isLive,
  isRemoval,
  type Reservation,
  type ReservationState,
  type ReservationType,
} from "../domain/reservation.ts";
import type { ServerKeys } from "../domain/secrets.ts";
import { signControl, signReservation } from "../domain/signing.ts";
import type { Clock } from "../ports/clock.ts";
import type { FeedWatcher } from "../ports/feed-watcher.ts";
import type { Page, PageRequest } from "../ports/pagination.ts";
import type { FeedEntry, Repositories } from "../ports/repositories.ts";

export type ReservationDeps = {
  repos: Repositories;
  clock: Clock;
  keys: ServerKeys;
  feedWatcher: FeedWatcher;
};

/** What an agent is sent: the signed fields, and `toDelete` once it is being removed. */
export const agentReservation = (r: Reservation, seq?: number): AgentReservation => ({
  id: r.id,
  nodeId: r.nodeId,
  workspaceId: r.workspaceId,
  user: r.user,
  type: r.type,
  data: r.data,
  created: r.created,
  duration: r.duration,
  signature: r.signature,
  toDelete: !isLive(r.state),
  ...(seq === undefined ? {} : { seq }),
});

export const reservationView = (r: Reservation): ReservationView => ({
  ...agentReservation(r),
  state: r.state,
  version: r.version,
  expiresAt: r.expiresAt,
  updatedAt: r.updatedAt,
  deletedAt: r.deletedAt,
  jobId: r.jobId,
  result: r.result,
});

/** Appends a feed entry and announces it, with the entry, to polls waiting in this process. */
async function announce(
  deps: ReservationDeps,
  kind: FeedEntry["kind"],
  r: Reservation,
  seq: number,
  createdAt: string,
): Promise<void> {
  const entry: FeedEntry = {
    deviceId: r.nodeId,
    seq,
    kind,
    reservation: agentReservation(r, seq),
    createdAt,
    expiresAt: r.expiresAt,
  };
  await deps.repos.feed.append(entry);
  deps.feedWatcher.notify(r.nodeId, seq, entry);
}

/**
 * Sends a control operation to the workload of a reservation through its device's feed, signed so that
 * the agent acts only on what the control plane sent.
 */
export async function sendControl(
  deps: ReservationDeps,
  r: Reservation,
  action: ControlAction,
): Promise<void> {
  const issuedAt = deps.clock.now().toISOString();
  const seq = await deps.repos.feed.allocate(r.nodeId);
  const control = {
    action,
    issuedAt,
    signature: signControl({ id: r.id, action, issuedAt }, deps.keys.signing.privateKey),
  };
  const entry: FeedEntry = {
    deviceId: r.nodeId,
    seq,
    kind: "control",
    reservation: { ...agentReservation(r, seq), control },
    createdAt: issuedAt,
    expiresAt: r.expiresAt,
  };
  await deps.repos.feed.append(entry);
  deps.feedWatcher.notify(r.nodeId, seq, entry);
}

/**
 * Signs and stores a reservation for a device and appends it to the device's feed. Order: sequence
 * number, then the reservation (and its pointer), then the feed entry. A crash after the first step
 * leaves a gap readers step over; after the second, a reservation the sweeper expires in time.
 */
export async function placeReservation(
  deps: ReservationDeps,
  input: {
    nodeId: string;
    workspaceId: string;
    user: string;
    type: ReservationType;
    data: unknown;
    duration: number;
    jobId?: string;
  },
): Promise<Reservation> {
  const now = deps.clock.now().toISOString();
  const data = JSON.stringify(input.data);
  const signed = {
    nodeId: input.nodeId,
    workspaceId: input.workspaceId,
    type: input.type,
    data,
    created: now,
    duration: input.duration,
  };
  const seq = await deps.repos.feed.allocate(input.nodeId);
  const reservation: Reservation = {
    id: newId(),
    user: input.user,
    ...signed,
    signature: signReservation(signed, deps.keys.signing.privateKey),
    state: "pending",
    version: 1,
    seq,
    jobId: input.jobId,
    expiresAt: expiresAt(now, input.duration),
    updatedAt: now,
  };
  await deps.repos.reservations.create(reservation);
  await announce(deps, "apply", reservation, seq, now);
  return reservation;
}

/** `POST /api/v1/reservations`: for a device of the caller's workspace. */
export async function createReservation(
  deps: ReservationDeps,
  user: UserPrincipal,
  input: CreateReservationRequest,
) {
  const device = await deps.repos.devices.get(input.nodeId);
  if (!device || device.workspaceId !== user.workspaceId) {
    throw notFound(`device ${input.nodeId} not found`);
  }
  return reservationView(
    await placeReservation(deps, { ...input, workspaceId: user.workspaceId, user: user.name }),
  );
}

/**
 * Removes a reservation: marks it `toDelete` (user) or `expired` (sweeper) and appends a removal entry.
 * Idempotent: a reservation already being removed, or deleted, is returned as it is (`removed: false`).
 * The removal joins the device's unacknowledged set with its sequence number, before the state changes,
 * so a crash between the steps still has it re-sent to the agent until acknowledged.
 */
export async function removeReservation(
  deps: ReservationDeps,
  current: Reservation,
  to: Extract<ReservationState, "toDelete" | "expired">,
): Promise<{ reservation: Reservation; removed: boolean }> {
  let r = current;
  if (!isLive(r.state)) return { reservation: r, removed: false };
  // One number for all attempts: a lost race (the reservation was marked delivered or started meanwhile)
  // retries with it, so it does not become a gap that holds the device's readers back.
  const seq = await deps.repos.feed.allocate(r.nodeId, r.id);
  for (let attempt = 0; attempt < 10; attempt++) {
    if (!isLive(r.state)) return { reservation: r, removed: false };
    const now = deps.clock.now().toISOString();
    const removed = await deps.repos.reservations.transition(r, to, { removeSeq: seq }, now);
    if (removed) {
      await announce(deps, "remove", removed, seq, now);
      return { reservation: removed, removed: true };
    }
    // Someone else moved it first: look again. (Removed by someone else, the number stays a gap readers
    // step over once it settles.)
    const fresh = await deps.repos.reservations.get(r.nodeId, r.id);
    if (!fresh) throw notFound(`reservation ${r.id} not found`);
    if (fresh.state === "deleted") await deps.repos.feed.acknowledge(r.nodeId, r.id);
    r = fresh;
  }
  throw new Error(`reservation ${r.id} kept changing while being removed`);
}

async function ownReservation(deps: ReservationDeps, user: UserPrincipal, id: string): Promise<Reservation> {
  const r = await deps.repos.reservations.getById(id);
  if (!r || r.workspaceId !== user.workspaceId) throw notFound(`reservation ${id} not found`);
  return r;
}

export async function getReservation(deps: ReservationDeps, user: UserPrincipal, id: string) {
  return reservationView(await ownReservation(deps, user, id));
}

/** `DELETE /api/v1/reservations/{id}`: asks the device to stop it. Deleting again changes nothing. */
export async function deleteReservation(deps: ReservationDeps, user: UserPrincipal, id: string) {
  const r = await ownReservation(deps, user, id);
  return reservationView(
    isRemoval(r.state) || r.state === "deleted"
      ? r
      : (await removeReservation(deps, r, "toDelete")).reservation,
  );
}

export async function listReservations(
  deps: ReservationDeps,
  user: UserPrincipal,
  filter: { nodeId?: string; state?: ReservationState },
  page: PageRequest,
): Promise<Page<ReservationView>> {
  const result = await deps.repos.reservations.list(
    user.workspaceId,
    page,
    (r) => (!filter.nodeId || r.nodeId === filter.nodeId) && (!filter.state || r.state === filter.state),
  );
  return { items: result.items.map(reservationView), cursor: result.cursor };
}

/** `GET /api/v1/reservations/{id}/output`: the chunks the device sent, in order. */
export async function reservationOutput(
  deps: ReservationDeps,
  user: UserPrincipal,
  id: string,
  stream: "stdout" | "stderr" | "mixed",
  page: PageRequest,
) {
  await ownReservation(deps, user, id);
  return deps.repos.output.list(id, page, stream === "mixed" ? undefined : stream);
}
