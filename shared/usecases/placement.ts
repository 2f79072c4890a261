import { type Job, JobStatus, StatusCode } from "../domain/job.ts";
import { reservationForJob } from "../domain/job-reservation.ts";
import { choosePlacement } from "../domain/placement.ts";
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
 * with `statusCode: NoCapacity` (or `NeverFits`) and a message saying why.
 */
export async function placeJob(deps: JobDeps, job: Job): Promise<Job> {
  if (job.status !== JobStatus.Pending || job.deviceId || job.target === "cloud") return job;
  let current = job;
  for (let round = 0; round < ROUNDS; round++) {
    const devices = await deps.repos.devices.listAll(current.workspaceId);
    const choice = choosePlacement(
      devices,
      { gpus: current.gpus, queues: current.queues, constraints: current.placementConstraints },
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

const placing = new Map<string, Promise<void>>();

/**
 * Tries to place a workspace's waiting jobs, oldest first (a job that does not fit does not block smaller
 * ones behind it). One pass at a time per workspace in this process; passes in other processes are safe
 * (the GPU claims are conditional).
 */
export function placePending(deps: JobDeps, workspaceId: string): Promise<void> {
  const running = placing.get(workspaceId);
  if (running) return running;
  const pass = (async () => {
    try {
      for (const job of await deps.repos.jobs.pending(workspaceId, 100)) await placeJob(deps, job);
    } finally {
      placing.delete(workspaceId);
    }
  })();
  placing.set(workspaceId, pass);
  return pass;
}
