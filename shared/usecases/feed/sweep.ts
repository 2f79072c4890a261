import { JobStatus, StatusCode } from "../../domain/job.ts";
import { isExpired, isLive } from "../../domain/reservation.ts";
import type { Logger } from "../../ports/logger.ts";
import type { JobDeps, ReservationDeps } from "../deps.ts";
import { finishJob } from "../jobs/job-update.ts";
import { placePending } from "../jobs/placement.ts";
import { removeReservation } from "./reservations.ts";

/**
 * The expiry sweeper: finds live reservations past `created + duration` (strict) in the expiry index,
 * marks them `expired` and appends their removal entries. Safe to run in several places at once: each
 * removal is a conditional transition, so an overlapping sweeper finds the work done and moves on.
 * The index may lag behind a removal (it is a GSI), so each sweep handles an id at most once.
 * Returns how many reservations this sweep expired.
 */
export async function sweepExpired(deps: ReservationDeps & { logger: Logger }, batch = 100): Promise<number> {
  let expired = 0;
  const handled = new Set<string>();
  for (;;) {
    const now = deps.clock.now();
    const page = await deps.repos.reservations.expiring(now.toISOString(), batch);
    const due = page.filter((r) => !handled.has(r.id) && isLive(r.state) && isExpired(r, now));
    for (const r of due) {
      handled.add(r.id);
      if ((await removeReservation(deps, r, "expired")).removed) expired++;
    }
    if (page.length < batch || due.length === 0) break;
  }
  if (expired > 0) deps.logger.info("expired reservations", { count: expired });
  return expired;
}

/**
 * Jobs: a job whose device has not been seen for two online TTLs is `Failed` with `NodeLost` (its GPUs
 * and quota go back, its reservation is removed for when the device returns); then every workspace with
 * jobs waiting for placement gets a placement pass (capacity may have appeared in another process).
 */
export async function sweepJobs(deps: JobDeps): Promise<{ lost: number }> {
  let lost = 0;
  const now = deps.clock.now();
  const devices = new Map<string, Awaited<ReturnType<typeof deps.repos.devices.get>>>();
  for (const job of await deps.repos.jobs.active(2000)) {
    if (!job.deviceId) continue;
    if (!devices.has(job.deviceId)) devices.set(job.deviceId, await deps.repos.devices.get(job.deviceId));
    const device = devices.get(job.deviceId);
    const silentFor = device ? now.getTime() - Date.parse(device.lastSeenAt) : Number.POSITIVE_INFINITY;
    if (silentFor <= 2 * deps.config.deviceTtlSeconds * 1000) continue;
    const message = device
      ? `device ${device.name} has not been seen since ${device.lastSeenAt}`
      : `device ${job.deviceId} was deleted`;
    const ended = await finishJob(deps, job.id, { reason: "nodeLost", message });
    if (ended?.status === JobStatus.Failed && ended.statusCode === StatusCode.NodeLost) lost++;
    const r =
      device && job.reservationId
        ? await deps.repos.reservations.get(device.id, job.reservationId)
        : undefined;
    if (r) await removeReservation(deps, r, "toDelete");
  }
  for (const workspaceId of await deps.repos.jobs.workspacesWithPending())
    await placePending(deps, workspaceId);
  if (lost > 0) deps.logger.warn("jobs lost with their devices", { count: lost });
  return { lost };
}
