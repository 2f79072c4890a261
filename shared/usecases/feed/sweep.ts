import { type Device, silentSince } from "../../domain/device.ts";
import { type Job, JobStatus, operationAllowed, StatusCode } from "../../domain/job.ts";
import { isExpired, isLive } from "../../domain/reservation.ts";
import type { Logger } from "../../ports/logger.ts";
import type { JobDeps, ReservationDeps } from "../deps.ts";
import { applyControl } from "../jobs/control-job.ts";
import { finishJob } from "../jobs/job-update.ts";
import { replaceJob } from "../jobs/jobs.ts";
import { placePending } from "../jobs/placement.ts";
import { sweepLabJob } from "../labs/labs.ts";
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

/** A job still on a device whose drain deadline passed: stopped (once; the node then reports its end). */
async function drainDue(deps: JobDeps, job: Job, device: Device) {
  if (job.controlRequested || !operationAllowed("stop", job.status)) return;
  try {
    await applyControl(
      deps,
      job,
      "stop",
      `the drain of device ${device.name} (deadline ${device.drain!.deadline})`,
    );
  } catch (err) {
    deps.logger.warn("could not stop a job at its device's drain deadline", {
      jobId: job.id,
      error: (err as Error).message,
    });
  }
}

/**
 * Jobs: a running job whose device has been silent for its `disconnect.lostAfterSeconds` (the control
 * plane's `lostAfterSeconds` when it names none) is `Failed` with `NodeLost`: its GPUs and quota go back,
 * its reservation is removed for when the device returns, and with `disconnect.replace` a copy is submitted.
 * Silence is counted from the device's last contact or from the control plane's return after an outage,
 * whichever is later: every sweep writes the pulse, and a gap of `gapMs` with no sweep anywhere (every
 * server down) gives every device a fresh grace period. Where the sweeper does not run in the API's
 * process (AWS), `apiUp` asks the API: while it does not answer, no pulse is written and nothing is lost,
 * so silence counts from the moment it answered again. Then every workspace with jobs waiting for
 * placement gets a placement pass (capacity may have appeared in another process).
 */
export async function sweepJobs(
  deps: JobDeps,
  opts: { gapMs?: number; apiUp?: () => Promise<boolean> } = {},
): Promise<{ lost: number }> {
  let lost = 0;
  if (opts.apiUp && !(await opts.apiUp())) {
    deps.logger.warn("the API does not answer: no device is lost while it cannot be reached");
    return { lost };
  }
  const now = deps.clock.now();
  const pulse = await deps.repos.devices.pulse(
    now.toISOString(),
    opts.gapMs ?? deps.config.deviceTtlSeconds * 1000,
  );
  if (pulse.resumed)
    deps.logger.info("the control plane is back after a gap: device silence counts from now", {
      since: pulse.since,
    });
  const devices = new Map<string, Awaited<ReturnType<typeof deps.repos.devices.get>>>();
  for (const job of await deps.repos.jobs.active(2000)) {
    if (job.lab)
      await sweepLabJob(deps, job).catch((e) =>
        deps.logger.warn("could not sweep a lab's job", { jobId: job.id, error: (e as Error).message }),
      );
    if (!job.deviceId) continue;
    if (!devices.has(job.deviceId)) devices.set(job.deviceId, await deps.repos.devices.get(job.deviceId));
    const device = devices.get(job.deviceId);
    // Never before the device is offline: a job is not lost from a device placement still counts as online.
    const lostAfterMs =
      Math.max(
        job.disconnect?.lostAfterSeconds ?? deps.config.lostAfterSeconds,
        deps.config.deviceTtlSeconds,
      ) * 1000;
    if (device && now.getTime() - silentSince(device.lastSeenAt, pulse.since) <= lostAfterMs) {
      if (device.drain && now.getTime() >= Date.parse(device.drain.deadline))
        await drainDue(deps, job, device);
      continue;
    }
    const message = device
      ? `device ${device.name} has not been seen since ${device.lastSeenAt}`
      : `device ${job.deviceId} was deleted`;
    const ended = await finishJob(deps, job.id, { reason: "nodeLost", message });
    if (ended?.status !== JobStatus.Failed || ended.statusCode !== StatusCode.NodeLost) continue;
    lost++;
    const r =
      device && job.reservationId
        ? await deps.repos.reservations.get(device.id, job.reservationId)
        : undefined;
    if (r) await removeReservation(deps, r, "toDelete");
    if (job.disconnect?.replace) await replaceJob(deps, ended);
  }
  for (const workspaceId of await deps.repos.jobs.workspacesWithPending())
    await placePending(deps, workspaceId);
  if (lost > 0) deps.logger.warn("jobs lost with their devices", { count: lost });
  return { lost };
}
