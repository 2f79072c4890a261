import type { Device } from "../../domain/device.ts";
import { newId } from "../../domain/ids.ts";
import { type Job, JobStatus, StatusCode } from "../../domain/job.ts";
import { reservationForJob } from "../../domain/job-reservation.ts";
import { choosePlacement, cpuCapacity, jobNeeds, memoryCapacityGiB } from "../../domain/placement.ts";
import { cloudCanTake, handOffToCloud } from "../cloud/cloud-handoff.ts";
import { type CloudJobDeps, hasCloud, type JobDeps } from "../deps.ts";
import { newReservation, placeReservation } from "../feed/reservations.ts";
import { healthSettings } from "../health/health.ts";
import { noteDeliveries, openJobSecrets, sealFor } from "../secrets/job-secrets.ts";
import { announce, jobEventWrite, jobTopic, recordJobEvent } from "./job-events.ts";
import { finishJob } from "./job-update.ts";

/** How many times a job retries placement after losing its GPUs to another job. */
const ROUNDS = 3;

/**
 * Places a pending job on the least loaded online device that can run it (jobs.md §7). One transaction
 * claims its GPUs (two jobs never get the same GPU), stores its reservation and feed entry, and records
 * where the job is, so a placement is never half made: a claim lost to another job moves on to the next
 * device, a job canceled meanwhile gets nothing. Without capacity the job stays `Pending` with
 * `statusCode: NoCapacity` (or `NeverFits`) and a message saying why. A `cloud` job is handed to cloud
 * capacity instead; an `auto` job that finds no room on the fleet too, when cloud capacity can take it.
 */
export async function placeJob(deps: JobDeps, job: Job, fleet?: Device[]): Promise<Job> {
  if (job.status !== JobStatus.Pending || job.deviceId || job.cloudReservationId) return job;
  if (job.target === "cloud" && !hasCloud(deps)) return job;
  // A job is placed by one call at a time in this process (its submit and a placement pass would otherwise
  // both try, and one would lose its transaction).
  const inFlight = deps.placement.placing;
  if (inFlight.has(job.id)) return job;
  inFlight.add(job.id);
  try {
    if (job.target === "cloud") return await handOffToCloud(deps as CloudJobDeps, job);
    const placed = await placeJobOnce(deps, job, fleet);
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

const stillWaiting = (j: Job | undefined) =>
  j !== undefined && j.status === JobStatus.Pending && !j.deviceId && !j.cloudReservationId;

/**
 * `fleet`: the workspace's devices as a placement pass read them (one read for the whole pass). A view that
 * is stale by a placement or two is safe: the claim in the transaction is conditional, and a lost claim
 * reads the fleet again. A placement updates the view in place (its GPUs are taken).
 */
async function placeJobOnce(deps: JobDeps, job: Job, fleet?: Device[]): Promise<Job> {
  let current = job;
  const { placement: health } = await healthSettings(deps, job.workspaceId);
  for (let round = 0; round < ROUNDS; round++) {
    const listed = round === 0 && fleet ? fleet : await deps.repos.devices.listAll(current.workspaceId);
    // Secrets are sealed to a device's encryption key: only devices that have one can run such a job.
    const sealing = current.secrets.length > 0 || current.lab !== undefined;
    const devices = sealing ? listed.filter((d) => d.encryptionKey) : listed;
    const choice =
      devices.length === 0 && listed.length > 0
        ? ({
            kind: "never",
            message: "no device can receive secrets (devices registered by GPUd have no encryption key)",
          } as const)
        : choosePlacement(
            devices,
            {
              gpus: current.gpus,
              queues: current.queues,
              constraints: current.placementConstraints,
              spreadKey: current.id,
              container: current.container !== undefined,
              health,
              ...jobNeeds(current),
            },
            deps.clock.now(),
            deps.config.deviceTtlSeconds,
          );
    if (choice.kind !== "candidates") {
      const code = choice.kind === "never" ? StatusCode.NeverFits : StatusCode.NoCapacity;
      if (current.statusCode === code && current.statusMessage === choice.message) return current;
      // Placed or canceled by another writer meanwhile: what it is now is the answer.
      const saved = await deps.repos.jobs.save(
        current,
        { statusCode: code, statusMessage: choice.message },
        deps.clock.now().toISOString(),
      );
      if (!saved.ok) return saved.current ?? current;
      // A lab's progress says once that it waits for room (specs/labs.md §5).
      if (current.lab && current.statusCode !== code)
        await recordJobEvent(deps, saved.value, "waiting", choice.message);
      // Followers of a pending job show why it waits: tell them it changed.
      announce(deps.feedWatcher, jobTopic(current.id));
      return saved.value;
    }
    const needs = jobNeeds(current);
    const held = { cpus: needs.cpus ?? 0, memoryGiB: needs.memoryGiB ?? 0 };
    // Its secrets, read and decrypted once for all the devices tried; sealed to each.
    const opened =
      current.secrets.length > 0 || current.lab ? await openJobSecrets(deps, current) : undefined;
    if (opened && "missing" in opened) {
      const message = `secret ${opened.missing} was deleted before the job was placed`;
      return (
        (await finishJob(deps, current.id, { reason: "secretMissing", message }, { inPlacement: true })) ??
        current
      );
    }
    if (opened && "tooLarge" in opened)
      return (
        (await finishJob(
          deps,
          current.id,
          { reason: "launchFailed", message: opened.tooLarge },
          { inPlacement: true },
        )) ?? current
      );
    for (const { device, gpus } of choice.devices) {
      const id = newId();
      const spec = reservationForJob(current, gpus, opened ? sealFor(opened, device, id) : undefined);
      const r = newReservation(deps, {
        id,
        nodeId: device.id,
        workspaceId: current.workspaceId,
        user: current.user,
        ...spec,
        jobId: current.id,
      });
      const message = `placed on ${device.name}${gpus.length ? ` (GPU ${gpus.join(", ")})` : ""}`;
      const w = deps.repos.jobs.update(
        current,
        {
          deviceId: device.id,
          reservationId: r.id,
          allocatedGpus: gpus,
          held,
          host: device.name,
          statusCode: StatusCode.Placed,
          statusMessage: message,
        },
        deps.clock.now().toISOString(),
      );
      const placed = await placeReservation(
        deps,
        r,
        [
          deps.repos.devices.claim(device.id, current.id, {
            gpus,
            ...held,
            capacity: { cpus: cpuCapacity(device), memoryGiB: memoryCapacityGiB(device) },
          }),
          w,
          jobEventWrite(deps, w.next, "placed", message).write,
        ],
        // The claim is conditional on the device too (one write per item in a transaction).
        { checkDevice: false },
      );
      if (placed.ok) {
        if (opened) await noteDeliveries(deps, opened);
        announce(deps.feedWatcher, jobTopic(current.id));
        for (const g of gpus) device.gpuOwners[String(g)] = current.id;
        device.heldCpus += held.cpus;
        device.heldMemoryGiB += held.memoryGiB;
        device.heldJobs += 1;
        return w.next;
      }
      if (placed.failed === "device") continue; // deleted since the list was read
      if (placed.failed === 0) {
        deps.stats.placementConflicts++;
        deps.meter.workspace(current.workspaceId).placementConflicts++;
        continue;
      }
      // The job changed meanwhile (canceled, or placed by another process): nothing was written.
      const fresh = await deps.repos.jobs.get(current.id);
      if (!stillWaiting(fresh)) return fresh ?? current;
      current = fresh!;
      break;
    }
  }
  return current;
}

/**
 * Tries to place a workspace's waiting jobs, oldest first (a job that does not fit does not block smaller
 * ones behind it). One pass at a time per workspace in this process: a call during a pass asks for one more
 * pass after it (capacity that appeared behind the running pass is not missed), and resolves when that one
 * ends. Passes in other processes are safe (placement is one conditional transaction).
 */
export function placePending(deps: JobDeps, workspaceId: string): Promise<void> {
  const passes = deps.placement.passes;
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
        const waiting = await deps.repos.jobs.pending(workspaceId, 100);
        if (waiting.length === 0) continue;
        // One read of the fleet for the pass. The list is an index (on DynamoDB it may lag): a job placed or
        // canceled since fails its placement's version condition, and is then read again.
        const fleet = await deps.repos.devices.listAll(workspaceId);
        for (const job of waiting) await placeJob(deps, job, fleet);
      }
    } finally {
      passes.delete(workspaceId);
    }
  })();
  passes.set(workspaceId, state);
  return state.pass;
}
