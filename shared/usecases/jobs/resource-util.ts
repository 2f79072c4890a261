import { BerthError, ErrorCode, notFound } from "../../domain/errors.ts";
import type { Job } from "../../domain/job.ts";
import { isFinalJob, JobStatus } from "../../domain/job-status.ts";
import type { DevicePrincipal, UserPrincipal } from "../../domain/principal.ts";
import { USAGE, type UsageSample } from "../../domain/usage.ts";
import type { JobDeps } from "../deps.ts";
import { sendSample } from "../feed/reservations.ts";
import { announce, jobTopic } from "./job-events.ts";
import { visibleJob } from "./jobs.ts";

export const usageTopic = (reservationId: string) => `usage:${reservationId}`;

/** The SDK's text for a job that is not running (launcher-go-sdk cache.RunningJobContext). */
const notRunning = () => new BerthError(ErrorCode.JobNotRunning, "The job is not currently running");

async function sampledJob(deps: JobDeps, user: UserPrincipal, id: string): Promise<Job> {
  const job = await visibleJob(deps, user, id);
  if (job.cloudReservationId || (job.target === "cloud" && !job.deviceId))
    throw new BerthError(
      ErrorCode.RequestNotSupported,
      "resource utilization is not available for cloud jobs",
    );
  return job;
}

const fresh = (s: UsageSample | undefined, now: Date) =>
  s !== undefined && now.getTime() - Date.parse(s.sampledAt) <= USAGE.freshMs;

/**
 * Takes (or renews) the job's sampling lease: the one follower whose conditional write wins puts a signed
 * `sample` control on the device's feed. Devices of protocol 1 (GPUd, old agents) are never asked.
 * Returns when the lease now ends.
 */
async function lease(deps: JobDeps, job: Job): Promise<number> {
  const now = deps.clock.now().getTime();
  const until = new Date(now + USAGE.leaseMs).toISOString();
  const taken = await deps.repos.usage.takeLease(
    job.reservationId!,
    until,
    new Date(now + USAGE.renewWithinMs).toISOString(),
  );
  // Another follower holds it for at least 20 s more: try again only when it may be running out.
  if (!taken) return now + USAGE.leaseMs;
  const [device, r] = await Promise.all([
    deps.repos.devices.identity(job.deviceId!),
    deps.repos.reservations.get(job.deviceId!, job.reservationId!),
  ]);
  if (device && r && (device.protocol ?? 1) >= 2) await sendSample(deps, r, USAGE.intervalSeconds, until);
  return Date.parse(until);
}

/**
 * `GET /jobs/{id}/resource-util` (follow=false): the latest sample if it is under 30 s old; otherwise a
 * lease is taken and the request waits up to 10 s for a sample (`sample: null` if none came). A final job
 * answers its last sample with `complete: true`; a pending one is 409 JobNotRunning.
 */
export async function resourceUtil(
  deps: JobDeps,
  user: UserPrincipal,
  id: string,
  signal: AbortSignal,
): Promise<{ sample: UsageSample | null; complete: boolean }> {
  const job = await sampledJob(deps, user, id);
  const stored = job.reservationId ? await deps.repos.usage.get(job.reservationId) : undefined;
  if (isFinalJob(job.status)) return { sample: stored?.sample ?? null, complete: true };
  if (job.status === JobStatus.Pending || !job.reservationId) throw notRunning();
  if (fresh(stored?.sample, deps.clock.now())) return { sample: stored!.sample!, complete: false };
  const topic = usageTopic(job.reservationId);
  const mark = deps.feedWatcher.mark(topic);
  await lease(deps, job);
  const deadline = Date.now() + USAGE.waitMs;
  let seen = mark;
  while (!signal.aborted && Date.now() < deadline) {
    // Samples posted to another server are found by reading again each second.
    await deps.feedWatcher.wait(topic, seen, Math.min(1000, deadline - Date.now()), signal);
    seen = deps.feedWatcher.mark(topic);
    const now = await deps.repos.usage.get(job.reservationId);
    if (fresh(now?.sample, deps.clock.now())) return { sample: now!.sample!, complete: false };
  }
  return { sample: null, complete: false };
}

export type UtilMessage =
  | { event: "util"; seqId: number; sample: UsageSample }
  | { event: "complete"; status: string; exitCode?: number };

/**
 * `?follow=true`: each new sample, renewing the lease while the stream is open (so sampling stops within a
 * minute of the last follower leaving), until the job is final, then `complete` with its status. A pending
 * job's stream waits for it to run.
 */
export async function followResourceUtil(
  deps: JobDeps,
  user: UserPrincipal,
  id: string,
  signal: AbortSignal,
): Promise<AsyncGenerator<UtilMessage>> {
  const first = await sampledJob(deps, user, id);
  return follow(deps, first, signal);
}

async function* follow(deps: JobDeps, first: Job, signal: AbortSignal): AsyncGenerator<UtilMessage> {
  let seqId = 0;
  let last = "";
  let leaseEnds = 0;
  while (!signal.aborted) {
    const job = (await deps.repos.jobs.get(first.id)) ?? first;
    const topics = [jobTopic(job.id), ...(job.reservationId ? [usageTopic(job.reservationId)] : [])];
    const marks = topics.map((t) => deps.feedWatcher.mark(t));
    const stored = job.reservationId ? await deps.repos.usage.get(job.reservationId) : undefined;
    if (stored?.sample && stored.sample.sampledAt > last) {
      last = stored.sample.sampledAt;
      yield { event: "util", seqId: ++seqId, sample: stored.sample };
    }
    if (isFinalJob(job.status)) {
      yield {
        event: "complete",
        status: job.status,
        ...(job.exitCode === undefined ? {} : { exitCode: job.exitCode }),
      };
      return;
    }
    const running = job.status !== JobStatus.Pending && job.reservationId && job.deviceId;
    if (running && deps.clock.now().getTime() >= leaseEnds - USAGE.renewWithinMs)
      leaseEnds = await lease(deps, job);
    await Promise.race(topics.map((t, i) => deps.feedWatcher.wait(t, marks[i]!, 2000, signal)));
  }
}

/**
 * `POST /agent/reservations/{id}/usage`: the device's samples of one of its own reservations. The newest is
 * kept if it is newer than the stored one; samples over an hour old, or from the future, are dropped.
 */
export async function recordUsage(
  deps: JobDeps,
  device: DevicePrincipal,
  reservationId: string,
  samples: UsageSample[],
): Promise<{ stored: boolean }> {
  const r = await deps.repos.reservations.get(device.deviceId, reservationId);
  if (!r) throw notFound(`reservation ${reservationId} not found`);
  const now = deps.clock.now().getTime();
  const newest = samples
    .filter((s) => {
      const at = Date.parse(s.sampledAt);
      return now - at <= USAGE.maxAgeMs && at - now <= 60_000;
    })
    .sort((a, b) => Date.parse(b.sampledAt) - Date.parse(a.sampledAt))[0];
  if (!newest) return { stored: false };
  const stored = await deps.repos.usage.putSample(reservationId, newest);
  if (stored) announce(deps.feedWatcher, usageTopic(reservationId));
  return { stored };
}
