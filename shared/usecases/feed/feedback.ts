import type { ReservationView, ResultRequest, StatusReport } from "../../contracts/reservations.ts";
import { conflict, invalidRequest, notFound } from "../../domain/errors.ts";
import { APPLICATION_LOG_BYTES, OUTPUT_RETENTION_DAYS, type OutputChunk } from "../../domain/output.ts";
import type { DevicePrincipal } from "../../domain/principal.ts";
import { moveReservation, type Reservation } from "../../domain/reservation.ts";
import { verifyResult } from "../../domain/signing.ts";
import {
  deploymentFailed,
  deploymentRemoved,
  deploymentStatusReported,
} from "../applications/deployments.ts";
import type { JobDeps, ReservationDeps } from "../deps.ts";
import { announce, jobTopic, outputTopic } from "../jobs/job-events.ts";
import { jobRemoved, jobResult, jobStarted } from "../jobs/job-lifecycle.ts";
import { labReported } from "../labs/labs.ts";
import { done, lost, mutate } from "../mutate.ts";
import { removeReservation, reservationView } from "./reservations.ts";

async function deviceReservation(
  deps: ReservationDeps,
  device: DevicePrincipal,
  id: string,
): Promise<Reservation> {
  // Addressed within the caller's own device: another device's reservation id is simply not found.
  const r = await deps.repos.reservations.get(device.deviceId, id);
  if (!r) throw notFound(`reservation ${id} not found`);
  return r;
}

const readOwn = (deps: ReservationDeps, device: DevicePrincipal, id: string) => () =>
  deps.repos.reservations.get(device.deviceId, id);

/**
 * `PUT /agent/reservations/{id}/result`: a signed result. Verified against the key the device registered
 * (a result that does not verify is a 400 and stores nothing). The first result is kept: the same
 * result again is a 200 no-op, a different one a 409.
 */
export async function recordResult(
  deps: JobDeps,
  device: DevicePrincipal,
  id: string,
  body: ResultRequest,
): Promise<ReservationView> {
  if (body.id !== id)
    throw invalidRequest(`result is for reservation ${body.id}, not ${id}`, [
      { path: "id", message: "does not match the path" },
    ]);
  if (!device.publicKey) {
    throw invalidRequest(
      "this device registered without a public key, so its results cannot be verified; log in with Berth's agent",
    );
  }
  if (!body.signature || !verifyResult(body, device.publicKey)) {
    throw invalidRequest("result signature does not verify against the device's registered key", [
      { path: "signature", message: "does not verify" },
    ]);
  }
  const stored = await mutate({
    what: `reservation ${id}`,
    current: await deviceReservation(deps, device, id),
    read: readOwn(deps, device, id),
    async attempt(r) {
      if (!r) throw notFound(`reservation ${id} not found`);
      if (r.result) {
        const same =
          r.result.state === body.state && r.result.error === body.error && r.result.data === body.data;
        if (same) return done({ r, first: false });
        throw conflict(`reservation ${id} already has a different ${r.result.state} result`, {
          result: r.result.state,
        });
      }
      const now = deps.clock.now().toISOString();
      const result = {
        state: body.state,
        error: body.error,
        data: body.data,
        created: body.created,
        signature: body.signature,
        receivedAt: now,
      };
      // Two results at once (a retry racing the original), or a removal: the first write wins, the other
      // looks at the reservation as it is now. A result moves a reservation that is not being removed.
      const moves = r.state === "pending" || r.state === "delivered";
      const patch = { result, ...(body.outputPending ? { outputPending: true } : {}) };
      const saved = await deps.repos.reservations.save(
        r,
        moves ? moveReservation(r, body.state, patch) : patch,
        now,
      );
      return saved.ok ? done({ r: saved.value, first: true }) : lost(saved);
    },
  });
  if (stored.first && stored.r.type === "application" && body.state === "error")
    await deploymentFailed(deps, stored.r, body.error);
  if (stored.first && stored.r.jobId) {
    await jobResult(deps, stored.r);
    if (!stored.r.outputPending) await retire(deps, stored.r);
  }
  return reservationView(stored.r);
}

/**
 * A job's workload ended and everything it printed is here: its reservation is removed, so the device
 * cleans up now (an exited container is removed) rather than at the reservation's expiry (a day, by
 * default). The job keeps its status and output.
 */
async function retire(deps: JobDeps, r: Reservation) {
  try {
    await removeReservation(deps, r, "toDelete");
  } catch (err) {
    // The sweeper still removes it at its expiry.
    deps.logger.warn("could not remove a finished job's reservation", {
      reservation: r.id,
      error: String(err),
    });
  }
}

/**
 * `PUT /agent/reservations/{id}/deleted`: the device has decommissioned it. Idempotent: a second
 * acknowledgement changes nothing. The device may report it before the control plane asked (its own
 * expiry clock), so any state may move to `deleted`. The state and the unacknowledged set change together.
 */
export async function acknowledgeDeleted(deps: JobDeps, device: DevicePrincipal, id: string) {
  const r = await mutate({
    what: `reservation ${id}`,
    current: await deviceReservation(deps, device, id),
    read: readOwn(deps, device, id),
    async attempt(r) {
      if (!r) throw notFound(`reservation ${id} not found`);
      if (r.state === "deleted") return done(r);
      const now = deps.clock.now().toISOString();
      const w = deps.repos.reservations.update(r, moveReservation(r, "deleted", { deletedAt: now }), now);
      const committed = await deps.repos.commit([w, deps.repos.feed.acknowledge(device.deviceId, id)]);
      return committed.ok ? done(w.next) : { reread: true };
    },
  });
  if (r.jobId && !r.result) await jobRemoved(deps, r);
  if (r.type === "application") await deploymentRemoved(deps, r);
  return reservationView(r);
}

/**
 * `POST /agent/reservations/{id}/output`: stores new chunks, ignores seqs already stored. With `last`, the
 * output is all there: a result sent with `outputPending` becomes complete (and followers are told).
 */
export async function appendOutput(
  deps: JobDeps,
  device: DevicePrincipal,
  id: string,
  chunks: OutputChunk[],
  last = false,
) {
  const r = await deviceReservation(deps, device, id);
  const now = deps.clock.now().toISOString();
  // A job's output outlives its reservation; an application's (a year long) is for debugging: a week.
  const days = OUTPUT_RETENTION_DAYS;
  const keepUntil =
    r.type === "application"
      ? new Date(Date.parse(now) + days.application * 86_400_000).toISOString()
      : new Date(Date.parse(r.expiresAt) + days.afterReservation * 86_400_000).toISOString();
  // In order, one after the other: a reader never sees a later chunk before an earlier one of the batch.
  const stored: boolean[] = [];
  let bytes = 0;
  for (const c of [...chunks].sort((a, b) => a.seq - b.seq)) {
    const isNew = await deps.repos.output.append(id, c, now, keepUntil);
    stored.push(isNew);
    if (isNew) bytes += Buffer.byteLength(c.data);
  }
  const added = stored.filter(Boolean).length;
  if (r.type === "application" && bytes > 0) {
    const total = await deps.repos.output.countBytes(id, bytes, now, keepUntil);
    if (total > APPLICATION_LOG_BYTES.cap)
      await deps.repos.output.dropOldest(id, total - APPLICATION_LOG_BYTES.trimTo);
  }
  const sealed = last && r.outputPending ? await sealOutput(deps, device, r) : undefined;
  if (added > 0 || sealed) announce(deps.feedWatcher, outputTopic(id));
  if (sealed?.jobId) {
    announce(deps.feedWatcher, jobTopic(sealed.jobId));
    if (sealed.result) await retire(deps, sealed);
  }
  return { stored: added, ignored: chunks.length - added };
}

/** The agent says all output is there: the pending mark goes (once; a repeat changes nothing). */
async function sealOutput(deps: ReservationDeps, device: DevicePrincipal, current: Reservation) {
  const id = current.id;
  return mutate({
    what: `reservation ${id}`,
    current,
    read: readOwn(deps, device, id),
    async attempt(r) {
      if (!r) throw notFound(`reservation ${id} not found`);
      if (!r.outputPending) return done(undefined);
      const saved = await deps.repos.reservations.save(
        r,
        { outputPending: false },
        deps.clock.now().toISOString(),
      );
      return saved.ok ? done(saved.value) : lost(saved);
    },
  });
}

/**
 * `POST /agent/reservations/{id}/status`: the workload started. Recorded once (a repeat changes nothing but
 * a changed `network`, which replaces the one kept); a job on it becomes `Running`.
 */
export async function reportStatus(deps: JobDeps, device: DevicePrincipal, id: string, body: StatusReport) {
  if (body.state === "pulling") {
    // A lab's image is being pulled: nothing has started yet.
    const r = await deviceReservation(deps, device, id);
    await labReported(deps, r, body);
    return reservationView(r);
  }
  const out = await mutate({
    what: `reservation ${id}`,
    current: await deviceReservation(deps, device, id),
    read: readOwn(deps, device, id),
    async attempt(r) {
      if (!r) throw notFound(`reservation ${id} not found`);
      // A restarted agent reports a container's network again: kept when it changed, the start only once.
      const network =
        body.network && JSON.stringify(body.network) !== JSON.stringify(r.network) ? body.network : undefined;
      if (r.startedAt && !network) return done({ r, first: false });
      const now = deps.clock.now().toISOString();
      const saved = await deps.repos.reservations.save(
        r,
        r.startedAt ? { network } : { startedAt: now, pid: body.pid, network },
        now,
      );
      return saved.ok ? done({ r: saved.value, first: !r.startedAt }) : lost(saved);
    },
  });
  if (out.first && out.r.jobId) await jobStarted(deps, out.r, body.pid);
  if (out.r.jobId && (body.hostPort !== undefined || body.state === "ready"))
    await labReported(deps, out.r, { state: body.state, message: body.message, hostPort: body.hostPort });
  if (out.r.type === "application" && body.containers)
    await deploymentStatusReported(deps, out.r, body.containers);
  return reservationView(out.r);
}
