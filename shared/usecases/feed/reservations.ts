import type { CreateReservationRequest, ReservationView } from "../../contracts/reservations.ts";
import { notFound } from "../../domain/errors.ts";
import type { AgentReservation, ControlAction, FeedEntry } from "../../domain/feed.ts";
import { newId } from "../../domain/ids.ts";
import type { UserPrincipal } from "../../domain/principal.ts";
import {
  expiresAt,
  isLive,
  isRemoval,
  moveReservation,
  type Reservation,
  type ReservationType,
} from "../../domain/reservation.ts";
import {
  controlBytesV2,
  reservationBytesV2,
  sampleBytesV2,
  signBytes,
  signControl,
  signReservation,
} from "../../domain/signing.ts";
import type { Page, PageRequest } from "../../ports/pagination.ts";
import type { Write } from "../../ports/repositories.ts";
import type { ReservationDeps } from "../deps.ts";
import { done, mutate, reread } from "../mutate.ts";
import { withoutV2 } from "./seal.ts";

export type { ReservationDeps } from "../deps.ts";

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
  ...(r.signatureV2 ? { signatureV2: r.signatureV2 } : {}),
  toDelete: !isLive(r.state),
  ...(seq === undefined ? {} : { seq }),
});

export const reservationView = (r: Reservation): ReservationView => ({
  ...withoutV2(agentReservation(r)),
  state: r.state,
  version: r.version,
  expiresAt: r.expiresAt,
  updatedAt: r.updatedAt,
  deletedAt: r.deletedAt,
  jobId: r.jobId,
  result: r.result,
});

const entryOf = (
  kind: FeedEntry["kind"],
  reservation: AgentReservation,
  r: Reservation,
  seq: number,
  at: string,
): FeedEntry => ({
  deviceId: r.nodeId,
  seq,
  kind,
  reservation,
  createdAt: at,
  expiresAt: r.expiresAt,
});

/**
 * Appends an entry to a device's feed in one transaction with `writes` (what the entry announces: a new
 * reservation, a state change), then wakes the polls waiting for the device. The entry takes the next number
 * only if no other writer took it first; when one did, the head is read again and `build` runs again. Any
 * other failed condition is returned (index into `writes`), with nothing written.
 */
export async function appendToFeed(
  deps: ReservationDeps,
  deviceId: string,
  build: (seq: number) => { entry: FeedEntry; writes: (Write | undefined | false)[] },
): Promise<{ ok: true; entry: FeedEntry } | { ok: false; failed: number; what: string }> {
  return mutate<number, { ok: true; entry: FeedEntry } | { ok: false; failed: number; what: string }>({
    what: `the feed of device ${deviceId}`,
    read: () => deps.repos.feed.lastSeq(deviceId),
    attempts: 50,
    async attempt(last) {
      const seq = (last ?? 0) + 1;
      const { entry, writes } = build(seq);
      const committed = await deps.repos.commit([deps.repos.feed.append({ seq: seq - 1 }, entry), ...writes]);
      if (committed.ok) {
        deps.feedWatcher.notify(deviceId, seq, entry);
        return done({ ok: true as const, entry });
      }
      // Another writer took the number: read the head again. Anything else is the caller's to decide.
      if (committed.failed === 0) return reread;
      return done({ ok: false as const, failed: committed.failed - 1, what: committed.what });
    },
  });
}

/** A new reservation, signed, for a device (not yet stored: see placeReservation). */
export function newReservation(
  deps: ReservationDeps,
  input: {
    nodeId: string;
    workspaceId: string;
    user: string;
    type: ReservationType;
    data: unknown;
    duration: number;
    jobId?: string;
    /** Made by the caller when the data depends on it (secrets sealed for this reservation). */
    id?: string;
  },
): Reservation {
  const now = deps.clock.now().toISOString();
  const signed = {
    nodeId: input.nodeId,
    workspaceId: input.workspaceId,
    type: input.type,
    data: JSON.stringify(input.data),
    created: now,
    duration: input.duration,
  };
  const id = input.id ?? newId();
  return {
    id,
    user: input.user,
    ...signed,
    signature: signReservation(signed, deps.keys.signing.privateKey),
    signatureV2: signBytes(reservationBytesV2({ id, ...signed }), deps.keys.signing.privateKey),
    state: "pending",
    version: 1,
    seq: 0,
    jobId: input.jobId,
    expiresAt: expiresAt(now, input.duration),
    updatedAt: now,
  };
}

/**
 * Stores a reservation and its feed entry in one transaction with `writes` (placement adds its GPU claim and
 * the job's update), if its device still exists in its workspace. Returns the stored reservation, or what
 * failed: the device is gone, or the write of `writes` at `index` (nothing was written).
 */
export async function placeReservation(
  deps: ReservationDeps,
  r: Reservation,
  writes: (Write | undefined | false)[] = [],
  opts: { checkDevice?: boolean } = {},
): Promise<
  { ok: true; reservation: Reservation } | { ok: false; failed: "device" } | { ok: false; failed: number }
> {
  let stored = r;
  const out = await appendToFeed(deps, r.nodeId, (seq) => {
    stored = { ...r, seq };
    return {
      entry: entryOf("apply", agentReservation(stored, seq), stored, seq, r.created),
      writes: [
        opts.checkDevice !== false && deps.repos.devices.exists(r.nodeId, r.workspaceId),
        deps.repos.reservations.create(stored),
        ...writes,
      ],
    };
  });
  if (out.ok) return { ok: true, reservation: stored };
  if (out.failed === 0) return { ok: false, failed: "device" };
  // A taken id (ids are random and time-ordered: a bug, not a race).
  if (out.failed === 1) throw new Error(`${out.what}: the id is taken`);
  return { ok: false, failed: out.failed - 2 };
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
  const key = deps.keys.signing.privateKey;
  await appendToFeed(deps, r.nodeId, (seq) => {
    const control = {
      action,
      issuedAt,
      seq,
      signature: signControl({ id: r.id, action, issuedAt }, key),
      // Protocol 2 signs the feed sequence too, known only now: an agent can tell an older control apart.
      signatureV2: signBytes(controlBytesV2({ id: r.id, nodeId: r.nodeId, action, seq, issuedAt }), key),
    };
    return {
      entry: entryOf("control", { ...agentReservation(r, seq), control }, r, seq, issuedAt),
      writes: [],
    };
  });
}

/**
 * Asks a protocol 2 device to sample a reservation's workload every `intervalSeconds` until `until` and post
 * the samples (specs/launcher-extras.md §1). An agent with nothing running for it ignores it.
 */
export async function sendSample(
  deps: ReservationDeps,
  r: Reservation,
  intervalSeconds: number,
  until: string,
): Promise<void> {
  const issuedAt = deps.clock.now().toISOString();
  const key = deps.keys.signing.privateKey;
  await appendToFeed(deps, r.nodeId, (seq) => {
    const signature = signBytes(
      sampleBytesV2({ id: r.id, nodeId: r.nodeId, seq, issuedAt, intervalSeconds, until }),
      key,
    );
    const control = {
      action: "sample" as const,
      intervalSeconds,
      until,
      issuedAt,
      seq,
      signature,
      signatureV2: signature,
    };
    return {
      entry: entryOf("control", { ...agentReservation(r, seq), control }, r, seq, issuedAt),
      writes: [],
    };
  });
}

/** `POST /api/v1/reservations`: for a device of the caller's workspace. */
export async function createReservation(
  deps: ReservationDeps,
  user: UserPrincipal,
  input: CreateReservationRequest,
) {
  const placed = await placeReservation(
    deps,
    newReservation(deps, { ...input, workspaceId: user.workspaceId, user: user.name }),
  );
  if (!placed.ok) throw notFound(`device ${input.nodeId} not found`);
  return reservationView(placed.reservation);
}

/**
 * Removes a reservation: marks it `toDelete` (user) or `expired` (sweeper) and appends its removal entry, in
 * one transaction (the removal joins the device's unacknowledged set there too, so it is re-sent until the
 * agent acknowledges it). Idempotent: a reservation already being removed, or deleted, is returned as it is
 * (`removed: false`).
 */
export async function removeReservation(
  deps: ReservationDeps,
  current: Reservation,
  to: "toDelete" | "expired",
): Promise<{ reservation: Reservation; removed: boolean }> {
  return mutate<Reservation, { reservation: Reservation; removed: boolean }>({
    what: `reservation ${current.id}`,
    current,
    read: () => deps.repos.reservations.get(current.nodeId, current.id),
    async attempt(r) {
      if (!r) throw notFound(`reservation ${current.id} not found`);
      if (!isLive(r.state)) return done({ reservation: r, removed: false });
      const now = deps.clock.now().toISOString();
      let removed = r;
      // Another writer (a result, the agent's acknowledgement, the other of user and sweeper) may move it
      // first: the transaction then writes nothing and it is looked at again.
      const out = await appendToFeed(deps, r.nodeId, (seq) => {
        const w = deps.repos.reservations.update(r, moveReservation(r, to, { removeSeq: seq }), now);
        removed = w.next;
        return { entry: entryOf("remove", agentReservation(removed, seq), removed, seq, now), writes: [w] };
      });
      return out.ok ? done({ reservation: removed, removed: true }) : reread;
    },
  });
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
  filter: { nodeId?: string; state?: Reservation["state"] },
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
