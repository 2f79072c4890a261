import { canMoveJob, isFinalJob, type Job, type JobChange, moveJob } from "../../domain/job.ts";
import { type JobEndReason, jobEnd } from "../../domain/job-end.ts";
import type { JobDeps } from "../deps.ts";
import { done, lost, mutate, reread } from "../mutate.ts";
import { announce, jobEventWrite, jobTopic } from "./job-events.ts";

/**
 * Applies a change to a job with the usual version check (mutate): `decide` sees the job as it is and
 * returns the change (a transition, or other fields), or undefined to leave it. Returns the job after, or
 * undefined when it does not exist.
 */
export async function updateJob(
  deps: Pick<JobDeps, "repos" | "clock">,
  id: string,
  decide: (job: Job) => JobChange | undefined,
  current?: Job,
): Promise<Job | undefined> {
  return mutate({
    what: `job ${id}`,
    current,
    read: () => deps.repos.jobs.get(id),
    async attempt(job) {
      if (!job) return done(undefined);
      const change = decide(job);
      if (!change) return done(job);
      const saved = await deps.repos.jobs.save(job, change, deps.clock.now().toISOString());
      return saved.ok ? done(saved.value) : lost(saved);
    },
  });
}

/**
 * Ends a job, for `reason` (jobEnd derives its status, code and message), in one transaction: the final
 * status, its quota and its GPUs back, its name free for another job, and the lifecycle event; then the host
 * is told that capacity came free. Idempotent: a job already final is left as it is and returned. Returns the job as it is after.
 */
export async function finishJob(
  deps: JobDeps,
  id: string,
  reason: JobEndReason,
  /** Called from a placement pass (which goes on with the next job itself): no new pass for the freed quota. */
  opts: { inPlacement?: boolean } = {},
): Promise<Job | undefined> {
  const end = jobEnd(reason);
  // What a transaction found already given back (a count that drifted, a device deleted): left out next time.
  let giveQuota = true;
  let releaseGpus: number[] | undefined;
  let deviceStillThere = true;
  let nameHeld = true;
  let ended: Job | undefined;
  let xid: string | undefined;
  const job = await mutate({
    what: `job ${id}`,
    read: () => deps.repos.jobs.get(id),
    async attempt(job) {
      ended = undefined;
      if (!job) return done(undefined);
      if (isFinalJob(job.status) || !canMoveJob(job.status, end.status)) return done(job);
      xid ??= await xidNote(deps, job, end);
      const now = deps.clock.now().toISOString();
      const w = deps.repos.jobs.update(
        job,
        moveJob(job, end.status, {
          statusCode: end.statusCode,
          statusMessage: `${end.statusMessage}${xid}`,
          exitCode: end.exitCode,
          quotaHeld: false,
          controlRequested: null,
        }),
        now,
      );
      const gpus = releaseGpus ?? job.allocatedGpus;
      const give =
        job.quotaHeld && giveQuota ? deps.repos.quotas.give(job.workspaceId, job.gpus.count) : undefined;
      const release =
        job.deviceId && deviceStillThere && (gpus.length > 0 || job.held)
          ? deps.repos.devices.release(job.deviceId, job.id, gpus, job.held)
          : undefined;
      const event = jobEventWrite(deps, w.next, end.event, `${end.statusMessage}${xid}`);
      // A lab's job claims no name: its lab's item is what makes it one per user.
      const name = nameHeld && !job.lab ? deps.repos.jobs.releaseName(job) : undefined;
      const committed = await deps.repos.commit([w, give, release, event.write, name]);
      if (committed.ok) {
        ended = w.next;
        return done(w.next);
      }
      if (committed.failed === 1) {
        deps.logger.warn("quota use was lower than a job's share; not giving it back twice", { jobId: id });
        giveQuota = false;
      } else if (committed.failed === 2 && job.deviceId) {
        // The device is gone, or another job holds some of the GPUs now: give back only what this job holds.
        const device = await deps.repos.devices.identity(job.deviceId);
        releaseGpus = device ? gpus.filter((g) => device.gpuOwners[String(g)] === job.id) : [];
        deviceStillThere = device !== undefined;
      } else if (committed.failed === 4) {
        nameHeld = false; // a job stored before names were claimed: nothing to give up
      }
      return reread;
    },
  });
  if (ended) {
    announce(deps.feedWatcher, jobTopic(id));
    if (!opts.inPlacement) await deps.capacityFreed(ended.workspaceId);
  }
  return job;
}

/** How long after a fatal Xid a job's failure is put down to it (specs/gpu-health.md §5, inferred). */
const XID_BLAME_MS = 5 * 60_000;

/**
 * For a job that failed on a device's GPUs: " (GPU 3 reported Xid 79 (GPU has fallen off the bus) at
 * 10:42:07Z)" when one of its GPUs reported a fatal Xid in the 5 minutes before; "" otherwise. One query of
 * the device's recent health events, only for jobs that ended badly.
 */
async function xidNote(deps: JobDeps, job: Job, end: ReturnType<typeof jobEnd>): Promise<string> {
  const bad = end.status === "Failed" || end.status === "Killed" || (end.exitCode ?? 0) !== 0;
  if (!bad || !job.deviceId || job.allocatedGpus.length === 0) return "";
  const now = deps.clock.now().getTime();
  const [device, events] = await Promise.all([
    deps.repos.devices.identity(job.deviceId),
    deps.repos.health.events(
      job.deviceId,
      {
        since: new Date(now - XID_BLAME_MS).toISOString(),
        type: "Fatal",
        component: "accelerator-nvidia-error-xid",
      },
      { limit: 20 },
    ),
  ]);
  for (const e of events.items) {
    const m = /^XID (\d+) \((.*?)\) detected on GPU (\S+?):?(\s|$)/.exec(e.message);
    const gpu = m && device?.info.gpus.find((g) => g.uuid === m[3]);
    if (m && gpu && job.allocatedGpus.includes(gpu.index))
      return ` (GPU ${gpu.index} reported Xid ${m[1]} (${m[2]}) at ${e.time.replace(/\.\d{3}Z$/, "Z")})`;
  }
  return "";
}
