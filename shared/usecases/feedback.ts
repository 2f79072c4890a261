import type { OutputChunk, ReservationView, ResultRequest, StatusReport } from "../contracts/reservations.ts";
import { conflict, invalidRequest, notFound } from "../domain/errors.ts";
import type { DevicePrincipal } from "../domain/principal.ts";
import type { Reservation } from "../domain/reservation.ts";
import { verifyResult } from "../domain/signing.ts";
import { announce, outputTopic } from "./job-events.ts";
import { jobRemoved, jobResult, jobStarted } from "./job-lifecycle.ts";
import type { JobDeps } from "./jobs.ts";
import { type ReservationDeps, reservationView } from "./reservations.ts";

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
  let r = await deviceReservation(deps, device, id);
  const node = await deps.repos.devices.get(device.deviceId);
  if (!node?.publicKey) {
    throw invalidRequest(
      "this device registered without a public key, so its results cannot be verified; log in with Berth's agent",
    );
  }
  if (!body.signature || !verifyResult(body, node.publicKey)) {
    throw invalidRequest("result signature does not verify against the device's registered key", [
      { path: "signature", message: "does not verify" },
    ]);
  }
  for (let attempt = 0; attempt < 10; attempt++) {
    if (r.result) {
      const same =
        r.result.state === body.state && r.result.error === body.error && r.result.data === body.data;
      if (same) return reservationView(r);
      throw conflict(`reservation ${id} already has a different ${r.result.state} result`, {
        result: r.result.state,
      });
    }
    const now = deps.clock.now().toISOString();
    const stored = await deps.repos.reservations.recordResult(
      r,
      {
        state: body.state,
        error: body.error,
        data: body.data,
        created: body.created,
        signature: body.signature,
        receivedAt: now,
      },
      now,
    );
    if (stored) {
      if (stored.jobId) await jobResult(deps, stored);
      return reservationView(stored);
    }
    r = await deviceReservation(deps, device, id);
  }
  throw new Error(`reservation ${id} kept changing while its result was recorded`);
}

/**
 * `PUT /agent/reservations/{id}/deleted`: the device has decommissioned it. Idempotent: a second
 * acknowledgement changes nothing. The device may report it before the control plane asked (its own
 * expiry clock), so any state may move to `deleted`.
 */
export async function acknowledgeDeleted(deps: JobDeps, device: DevicePrincipal, id: string) {
  let r = await deviceReservation(deps, device, id);
  for (let attempt = 0; attempt < 10 && r.state !== "deleted"; attempt++) {
    const now = deps.clock.now().toISOString();
    const deleted = await deps.repos.reservations.transition(r, "deleted", { deletedAt: now }, now);
    if (deleted) {
      r = deleted;
      break;
    }
    r = await deviceReservation(deps, device, id);
  }
  if (r.state !== "deleted") throw new Error(`reservation ${id} kept changing while being acknowledged`);
  // Also on a repeat: a crash after the transition may have left it in the unacknowledged set.
  await deps.repos.feed.acknowledge(device.deviceId, id);
  if (r.jobId && !r.result) await jobRemoved(deps, r);
  return reservationView(r);
}

/** `POST /agent/reservations/{id}/output`: stores new chunks, ignores seqs already stored. */
export async function appendOutput(
  deps: ReservationDeps,
  device: DevicePrincipal,
  id: string,
  chunks: OutputChunk[],
) {
  const r = await deviceReservation(deps, device, id);
  const now = deps.clock.now().toISOString();
  // In order, one after the other: a reader never sees a later chunk before an earlier one of the batch.
  const stored: boolean[] = [];
  for (const c of [...chunks].sort((a, b) => a.seq - b.seq))
    stored.push(await deps.repos.output.append(id, c, now, r.expiresAt));
  const added = stored.filter(Boolean).length;
  if (added > 0) announce(deps.feedWatcher, outputTopic(id));
  return { stored: added, ignored: chunks.length - added };
}

/**
 * `POST /agent/reservations/{id}/status`: the workload started. Recorded once (a repeat changes nothing);
 * a job on it becomes `Running`.
 */
export async function reportStatus(deps: JobDeps, device: DevicePrincipal, id: string, body: StatusReport) {
  let r = await deviceReservation(deps, device, id);
  for (let attempt = 0; attempt < 10 && !r.startedAt; attempt++) {
    const now = deps.clock.now().toISOString();
    const updated = await deps.repos.reservations.transition(
      r,
      r.state,
      { startedAt: now, pid: body.pid },
      now,
    );
    if (updated) {
      if (updated.jobId) await jobStarted(deps, updated, body.pid);
      return reservationView(updated);
    }
    r = await deviceReservation(deps, device, id);
  }
  return reservationView(r);
}
