import {
  type CloudReservation,
  CloudState,
  canMoveCloud,
  isFinalCloud,
  type LauncherKind,
  moveCloud,
} from "../../domain/cloud-reservation.ts";
import { BerthError, ErrorCode } from "../../domain/errors.ts";
import { newId } from "../../domain/ids.ts";
import { type Job, JobStatus, StatusCode } from "../../domain/job.ts";
import { type CloudJobDeps, hasCloud, type JobDeps } from "../deps.ts";
import { recordJobEvent } from "../jobs/job-events.ts";
import { updateJob } from "../jobs/job-update.ts";
import { done, lost, mutate } from "../mutate.ts";

export { type CloudJobDeps, hasCloud } from "../deps.ts";

/**
 * What a job asks that cloud capacity cannot give (host mounts, published ports, stdin, swap: ECS overrides
 * and Kubernetes limits have none), if anything.
 */
export function cloudUnfit(
  job: Pick<Job, "mounts" | "exposedPorts" | "stdin"> & Partial<Pick<Job, "resourceLimits">>,
): string | undefined {
  if (job.mounts.length > 0) return "host mounts";
  if (job.exposedPorts.length > 0) return "exposed ports";
  if (job.stdin) return "stdin";
  if (job.resourceLimits?.some((l) => l.type === "memorySwap")) return "memorySwap limits";
  return undefined;
}

/**
 * Checks at submit that a job can go where its target says (400 RequestNotSupported otherwise, nothing
 * stored): `cloud` needs configured cloud capacity of the launcher its profile names, and a job cloud
 * capacity can run. `auto` jobs that the cloud cannot run stay on the fleet.
 */
export function checkCloudTarget(
  deps: JobDeps,
  job: Pick<Job, "target" | "cloudLauncher" | "mounts" | "exposedPorts" | "stdin" | "resourceLimits">,
) {
  if (job.target !== "cloud") return;
  if (!deps.cloud) {
    throw new BerthError(
      ErrorCode.RequestNotSupported,
      "cloud capacity is not configured on this control plane (set BERTH_ECS_CLUSTER or BERTH_EKS_CLUSTER); submit with target fleet or auto",
    );
  }
  const launcher = job.cloudLauncher ?? deps.cloud.defaultLauncher;
  if (!deps.cloud.launchers[launcher]) {
    throw new BerthError(
      ErrorCode.RequestNotSupported,
      `the job's profile asks for ${launcher.toUpperCase()} capacity, which this control plane does not have (it has ${Object.keys(deps.cloud.launchers).join(", ").toUpperCase()})`,
    );
  }
  const unfit = cloudUnfit(job);
  if (unfit) {
    throw new BerthError(
      ErrorCode.RequestNotSupported,
      `${unfit} are not available on cloud capacity; use target fleet`,
    );
  }
}

/** Whether an `auto` job with no room on the fleet goes to the cloud. */
export const cloudCanTake = (deps: JobDeps, job: Job): deps is CloudJobDeps =>
  hasCloud(deps) &&
  !!deps.cloud.launchers[job.cloudLauncher ?? deps.cloud.defaultLauncher] &&
  !cloudUnfit(job);

/**
 * Hands a pending job to cloud capacity (specs/cloud.md): a cloud reservation in state `queued`, attempt 1,
 * then the job points at it, then a message on the provision queue. The queue is only a trigger: if the
 * send fails, the sweeper enqueues reservations that stay queued too long. A job that changed meanwhile
 * (canceled) withdraws the reservation it no longer points at.
 */
export async function handOffToCloud(deps: CloudJobDeps, job: Job, why = ""): Promise<Job> {
  const now = deps.clock.now().toISOString();
  const launcher: LauncherKind = job.cloudLauncher ?? deps.cloud.defaultLauncher;
  const r: CloudReservation = {
    id: newId(),
    workspaceId: job.workspaceId,
    jobId: job.id,
    launcher,
    attempt: 1,
    state: CloudState.queued,
    version: 1,
    createdAt: now,
    updatedAt: now,
    capacityRetries: 0,
    requeues: 0,
  };
  const created = await deps.repos.commit([deps.repos.cloudReservations.create(r)]);
  if (!created.ok) throw new Error(`${created.what}: the id is taken`);
  const message = `queued for ${launcher.toUpperCase()} GPU capacity${why}`;
  const updated = await updateJob(deps, job.id, (j) =>
    j.status === JobStatus.Pending && !j.deviceId && !j.cloudReservationId
      ? { cloudReservationId: r.id, host: "cloud", statusCode: StatusCode.Queued, statusMessage: message }
      : undefined,
  );
  if (updated?.cloudReservationId !== r.id) {
    await withdraw(deps, r, "the job changed before it was queued");
    return updated ?? job;
  }
  await recordJobEvent(deps, updated, "queued", message);
  await enqueue(deps, r);
  return updated;
}

/** Sends the reservation's provision message; a failure is logged and left to the sweeper. */
export async function enqueue(
  deps: CloudJobDeps,
  r: Pick<CloudReservation, "id" | "attempt">,
  delaySeconds = 0,
) {
  try {
    await deps.cloud.queue.send({ reservationId: r.id, attempt: r.attempt }, delaySeconds);
  } catch (err) {
    deps.logger.warn("could not enqueue cloud work; the sweeper will enqueue it again", {
      reservationId: r.id,
      error: (err as Error).message,
    });
  }
}

/** Marks a reservation that is not final `canceled` (or `failed`). Returns it as it is after. */
export async function withdraw(
  deps: JobDeps,
  current: CloudReservation,
  reason: string,
  to: typeof CloudState.canceled | typeof CloudState.failed = CloudState.canceled,
): Promise<CloudReservation | undefined> {
  return mutate({
    what: `cloud reservation ${current.id}`,
    current,
    read: () => deps.repos.cloudReservations.get(current.id),
    async attempt(r) {
      // Final, or past where it can be withdrawn (a task being stopped ends by itself).
      if (!r || isFinalCloud(r.state) || !canMoveCloud(r.state, to)) return done(r);
      // The worker taking it, an event or a cancel may change it first: look again.
      const saved = await deps.repos.cloudReservations.save(
        r,
        moveCloud(r, to, { reason }),
        deps.clock.now().toISOString(),
      );
      return saved.ok ? done(saved.value) : lost(saved);
    },
  });
}

/**
 * One versioned write of a cloud reservation: the reservation after it, or undefined when another writer
 * changed it first (nothing written). For the callers whose answer to a lost race is to move on.
 */
export async function saveCloud(
  deps: Pick<JobDeps, "repos" | "clock">,
  r: CloudReservation,
  change: Parameters<JobDeps["repos"]["cloudReservations"]["save"]>[1],
): Promise<CloudReservation | undefined> {
  const saved = await deps.repos.cloudReservations.save(r, change, deps.clock.now().toISOString());
  return saved.ok ? saved.value : undefined;
}
