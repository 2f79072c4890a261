import type { Job, JobEvent } from "../../domain/job.ts";
import type { FeedWatcher } from "../../ports/feed-watcher.ts";
import type { Write } from "../../ports/repositories.ts";
import type { ReservationDeps } from "../deps.ts";

let announcements = 0;

/** Wakes followers of a topic (job events, job output) in this process, and in others sharing the database. */
export function announce(watcher: FeedWatcher, topic: string): void {
  watcher.notify(topic, ++announcements);
}

export const jobTopic = (jobId: string) => `job:${jobId}`;
export const outputTopic = (reservationId: string) => `output:${reservationId}`;

/** An event of a job's lifecycle, as a write for the transaction that causes it (announce it after). */
export function jobEventWrite(
  deps: Pick<ReservationDeps, "repos" | "clock">,
  job: Pick<Job, "id" | "status">,
  type: string,
  message: string,
): { write: Write; event: JobEvent } {
  return deps.repos.jobEvents.append(job.id, {
    type,
    message,
    status: job.status,
    at: deps.clock.now().toISOString(),
  });
}

/** Records a lifecycle event of a job (accepted, placed, started, exited...) and wakes its followers. */
export async function recordJobEvent(
  deps: Pick<ReservationDeps, "repos" | "clock" | "feedWatcher">,
  job: Pick<Job, "id" | "status">,
  type: string,
  message: string,
): Promise<JobEvent> {
  const { write, event } = jobEventWrite(deps, job, type, message);
  await deps.repos.commit([write]);
  announce(deps.feedWatcher, jobTopic(job.id));
  return event;
}
