import { type Job, JobStatus, StatusCode } from "../domain/job.ts";
import { reservationForJob } from "../domain/job-reservation.ts";
import { choosePlacement } from "../domain/placement.ts";
import { type CloudJobDeps, cloudCanTake, handOffToCloud, hasCloud } from "./cloud-handoff.ts";
import { recordJobEvent } from "./job-events.ts";
import type { JobDeps } from "./jobs.ts";
import { placeReservation, removeReservation } from "./reservations.ts";

/** How many times a job retries placement after losing its GPUs to another job. */
const ROUNDS = 3;

/**
 * Places a pending job on the least loaded online device that can run it (jobs.md §7). The GPUs are
 * claimed with a conditional write (two jobs never get the same GPU), then the reservation is put on the
 * device's feed, then the job records where it is. A claim lost to another job moves on to the next device;
 * a job canceled meanwhile gets its GPUs and reservation back out. Without capacity the job stays `Pending`
 * with `statusCode: NoCapacity` (or `NeverFits`) and a message saying why. A `cloud` job is handed to cloud
 * capacity instead; an `auto` job that finds no room on the fleet too, when cloud capacity can take it.
 */
export async function placeJob(deps: JobDeps, job: Job): Promise<Job> {
  if (job.status !== JobStatus.Pending || job.deviceId || job.cloudReservationId) return job;
  if (job.target === "cloud" && !hasCloud(deps)) return job;
  // A job is placed by one call at a time in this process (its submit and a placement pass would
  // otherwise both claim GPUs for it, and one would have to give them back).
  let inFlight = placingJobs.get(deps.repos.jobs);
  if (!inFlight) {
    inFlight = new Set();
    placingJobs.set(deps.repos.jobs, inFlight);
  }
  if (inFlight.has(job.id)) return job;
  inFlight.add(job.id);
  try {
    if (job.target === "cloud") return await handOffToCloud(deps as CloudJobDeps, job);
    const placed = await placeJobOnce(deps, job);
    // `auto`: the fleet first, then the cloud.
    if (
      job.target === "auto" &&
      placed.status === JobStatus.Pending &&
      !placed.deviceId &&
      cloudCanTake(deps, placed)
    )
      return await handOffToCloud(deps, placed, ` (no room on the fleet: ${placed.statusMessage})`);
    return placed;
  } finally {
    inFlight.delete(job.id);
  }
}

/** Jobs being placed, per app (its job repository). */
const placingJobs = new WeakMap<object, Set<string>>();

async function placeJobOnce(deps: JobDeps, job: Job): Promise<Job> {
  let current = job;
  for (let round = 0; round < ROUNDS; round++) {
    const devices = await deps.repos.devices.listAll(current.workspaceId);
    const choice = choosePlacement(
      devices,
      {
        gpus: current.gpus,
        queues: current.queues,
        constraints: current.placementConstraints,
        spreadKey: current.id,
      },
      deps.clock.now(),
      deps.config.deviceTtlSeconds,
    );
    if (choice.kind !== "candidates") {
      const code = choice.kind === "never" ? StatusCode.NeverFits : StatusCode.NoCapacity;
      if (current.statusCode === code && current.statusMessage === choice.message) return current;
      const waiting = await deps.repos.jobs.update(
        current,
        { statusCode: code, statusMessage: choice.message },
        deps.clock.now().toISOString(),
      );
      return waiting ?? (await deps.repos.jobs.get(current.id)) ?? current;
    }
    for (const { device, gpus } of choice.devices) {
      if (!(await deps.repos.devices.claimGpus(device.id, gpus, current.id))) {
        deps.stats.placementConflicts++;
        continue;
      }
      const spec = reservationForJob(current, gpus);
      const reservation = await placeReservation(deps, {
        nodeId: device.id,
        workspaceId: current.workspaceId,
        user: current.user,
        ...spec,
        jobId: current.id,
      });
      const placed = await deps.repos.jobs.update(
        current,
        {
          deviceId: device.id,
          reservationId: reservation.id,
          allocatedGpus: gpus,
          host: device.name,
          statusCode: StatusCode.Placed,
          statusMessage: `placed on ${device.name}${gpus.length ? ` (GPU ${gpus.join(", ")})` : ""}`,
        },
        deps.clock.now().toISOString(),
      );
      if (placed) {
        await recordJobEvent(deps, placed, "placed", placed.statusMessage);
        return placed;
      }
      // The job changed meanwhile (canceled, or placed by another process): give the device back.
      await removeReservation(deps, reservation, "toDelete");
      await deps.repos.devices.releaseGpus(device.id, gpus, current.id);
      const fresh = await deps.repos.jobs.get(current.id);
      if (!fresh || fresh.status !== JobStatus.Pending || fresh.deviceId) return fresh ?? current;
      current = fresh;
      break;
    }
  }
  return current;
}

/** Running passes, per app (its job repository) and workspace. */
const placing = new WeakMap<object, Map<string, { pass: Promise<void>; again: boolean }>>();

/**
 * Tries to place a workspace's waiting jobs, oldest first (a job that does not fit does not block smaller
 * ones behind it). One pass at a time per workspace in this process: a call during a pass asks for one more
 * pass after it (capacity that appeared behind the running pass is not missed), and resolves when that one
 * ends. Passes in other processes are safe (the GPU claims are conditional).
 */
export function placePending(deps: JobDeps, workspaceId: string): Promise<void> {
  let passes = placing.get(deps.repos.jobs);
  if (!passes) {
    passes = new Map();
    placing.set(deps.repos.jobs, passes);
  }
  const running = passes.get(workspaceId);
  if (running) {
    running.again = true;
    return running.pass;
  }
  const state = { pass: Promise.resolve(), again: true };
  state.pass = (async () => {
    try {
      while (state.again) {
        state.again = false;
        for (const listed of await deps.repos.jobs.pending(workspaceId, 100)) {
          // The list is an index (it may lag), and a job may have been placed since: read it first.
          const job = await deps.repos.jobs.get(listed.id);
          if (job) await placeJob(deps, job);
        }
      }
    } finally {
      passes.delete(workspaceId);
    }
  })();
  passes.set(workspaceId, state);
  return state.pass;
}
