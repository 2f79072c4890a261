import type { JobEvent } from "../contracts/jobs.ts";
import type { Job } from "../domain/job.ts";
import type { Clock } from "../ports/clock.ts";
import type { FeedWatcher } from "../ports/feed-watcher.ts";
import type { Repositories } from "../ports/repositories.ts";

let announcements = 0;

/** Wakes followers of a topic in this process (job events, job output). */
export function announce(watcher: FeedWatcher, topic: string): void {
  watcher.notify(topic, ++announcements);
}

export const jobTopic = (jobId: string) => `job:${jobId}`;
export const outputTopic = (reservationId: string) => `output:${reservationId}`;

/** Records a lifecycle event of a job (accepted, placed, started, exited...) and wakes its followers. */
export async function recordJobEvent(
  deps: { repos: Repositories; clock: Clock; feedWatcher: FeedWatcher },
  job: Pick<Job, "id" | "status">,
  type: string,
  message: string,
): Promise<JobEvent> {
  const event = await deps.repos.jobEvents.append(job.id, {
    type,
    message,
    status: job.status,
    at: deps.clock.now().toISOString(),
  });
  announce(deps.feedWatcher, jobTopic(job.id));
  return event;
}
