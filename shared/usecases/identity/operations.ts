import type { DeviceOperationView } from "../../contracts/devices.ts";
import { BerthError, conflict, ErrorCode, notFound } from "../../domain/errors.ts";
import type { UserPrincipal } from "../../domain/principal.ts";
import { isLive, type Reservation } from "../../domain/reservation.ts";
import { OperationData } from "../../domain/reservation-data.ts";
import type { JobDeps } from "../deps.ts";
import { newReservation, placeReservation } from "../feed/reservations.ts";
import { ownDevice } from "./devices.ts";

/** How long a reboot may wait for its device: one offline for longer does not reboot on its return. */
export const OPERATION_SECONDS = 600;

/** An operation's state, read from its reservation (applications.md §8). */
export function operationState(r: Reservation, now: Date): DeviceOperationView["state"] {
  if (r.result) {
    if (r.result.state === "ok") return "done";
    return r.result.error.startsWith("rejected") ? "rejected" : "failed";
  }
  // Started in time: a reboot that takes longer than the operation's ten minutes is still under way.
  if (r.startedAt) return "started";
  if (r.state === "expired" || r.state === "toDelete" || r.state === "deleted") return "expired";
  if (now.getTime() > Date.parse(r.expiresAt)) return "expired";
  return r.state === "delivered" ? "delivered" : "pending";
}

export function operationView(r: Reservation, now: Date): DeviceOperationView {
  const data = OperationData.parse(JSON.parse(r.data));
  return {
    id: r.id,
    deviceId: r.nodeId,
    action: data.action,
    reason: data.reason,
    state: operationState(r, now),
    message: r.result?.error ?? "",
    issuedAt: r.created,
    expiresAt: r.expiresAt,
    ...(r.startedAt ? { startedAt: r.startedAt } : {}),
    ...(r.result ? { endedAt: r.result.receivedAt } : {}),
    issuedBy: r.user,
  };
}

/**
 * `POST /devices/{id}/reboot`: a signed operation on the device's feed (a reservation of type `operation`,
 * ten minutes long). A device running jobs is busy (409 naming them) unless `force`: they then end when
 * the machine goes down (their processes are gone when it comes back).
 */
export async function rebootDevice(
  deps: JobDeps,
  user: UserPrincipal,
  deviceId: string,
  input: { reason: string; force: boolean },
): Promise<DeviceOperationView> {
  const device = await ownDevice(deps, user.workspaceId, deviceId);
  const live = await deps.repos.reservations.listForDevice(device.id);
  const now = deps.clock.now();
  const under = live.find(
    (r) =>
      r.type === "operation" &&
      OperationData.parse(JSON.parse(r.data)).action === "reboot" &&
      ["pending", "delivered", "started"].includes(operationState(r, now)),
  );
  // Two reboots asked for at once would reboot it twice (the second delivered after the first boot).
  if (under)
    throw conflict(`device ${device.id} has a reboot under way (${under.id}); see berth devices operations`, {
      operation: under.id,
    });
  if (!input.force) {
    const running = live.filter((r) => r.jobId && isLive(r.state) && !r.result);
    if (running.length > 0)
      throw new BerthError(
        ErrorCode.DeviceBusy,
        `device ${device.id} runs ${running.length} job(s): ${running
          .slice(0, 5)
          .map((r) => r.jobId)
          .join(", ")}; stop them first, or reboot with force=true (they then fail)`,
        { jobs: running.map((r) => r.jobId!) },
      );
  }
  const r = newReservation(deps, {
    nodeId: device.id,
    workspaceId: user.workspaceId,
    user: user.name,
    type: "operation",
    data: { action: "reboot", reason: input.reason },
    duration: OPERATION_SECONDS,
  });
  const placed = await placeReservation(deps, r);
  if (!placed.ok) throw notFound(`device ${deviceId} not found`);
  deps.logger.info("device reboot requested", { deviceId: device.id, operation: r.id, by: user.name });
  return operationView(placed.reservation, deps.clock.now());
}

/** `GET /devices/{id}/operations`: the device's operations, newest first (kept 30 days after they end). */
export async function deviceOperations(deps: JobDeps, ws: string, deviceId: string) {
  const device = await ownDevice(deps, ws, deviceId);
  const now = deps.clock.now();
  const all = await deps.repos.reservations.listForDevice(device.id, { withDeleted: true });
  return {
    items: all
      .filter((r) => r.type === "operation")
      .map((r) => operationView(r, now))
      .sort((a, b) => b.issuedAt.localeCompare(a.issuedAt)),
  };
}

export async function deviceOperation(deps: JobDeps, ws: string, deviceId: string, opId: string) {
  const device = await ownDevice(deps, ws, deviceId);
  const r = await deps.repos.reservations.get(device.id, opId);
  if (r?.type !== "operation") throw notFound(`operation ${opId} not found on device ${deviceId}`);
  return operationView(r, deps.clock.now());
}
