import type { JobEvent } from "../../contracts/jobs.ts";
import { BerthError, ErrorCode } from "../../domain/errors.ts";
import { isFinalJob, type Job } from "../../domain/job.ts";
import type { StoredOutputChunk } from "../../domain/output.ts";
import type { UserPrincipal } from "../../domain/principal.ts";
import { jobTopic, outputTopic } from "./job-events.ts";
import { type JobDeps, visibleJob } from "./jobs.ts";

type Stream = "stdout" | "stderr" | "mixed";
export type OutputLine = { seqId: number; stream: "stdout" | "stderr"; data: string };

/** How long a follower waits for a wake-up before reading anyway (writes by other processes). */
export const RECHECK_MS = 2000;

const noOutput = (id: string) => new BerthError(ErrorCode.JobOutputNotFound, `job ${id} has no output yet`);

/** Reads a reservation's chunks after `seq`, only as far as they are consecutive (a gap is a write in flight). */
export async function nextChunks(
  deps: JobDeps,
  reservationId: string,
  seq: number,
): Promise<StoredOutputChunk[]> {
  const taken: StoredOutputChunk[] = [];
  for (;;) {
    const batch = await deps.repos.output.since(reservationId, seq, 500);
    for (const c of batch) {
      if (c.seq !== seq + 1) return taken;
      taken.push(c);
      seq = c.seq;
    }
    if (batch.length < 500) return taken;
  }
}

/**
 * A cloud job's output after `cursor`: its task's log lines (CloudWatch Logs for ECS), as one stream
 * (`stdout`: the log driver does not keep the two apart). Nothing while no task exists.
 */
async function cloudLines(deps: JobDeps, job: Job, cursor?: string) {
  const r = job.cloudReservationId
    ? await deps.repos.cloudReservations.get(job.cloudReservationId)
    : undefined;
  const launcher = r?.task ? deps.cloud?.launchers[r.task.launcher] : undefined;
  const chunks: Pick<StoredOutputChunk, "stream" | "data">[] = [];
  if (!r?.task || !launcher?.output) return { chunks, cursor };
  for (;;) {
    const read = await launcher.output(r.task, cursor);
    for (const line of read.lines) chunks.push({ stream: "stdout", data: `${line}\n` });
    const moved = read.cursor !== cursor;
    cursor = read.cursor;
    if (read.lines.length === 0 || !moved) return { chunks, cursor };
  }
}

/**
 * Whether a job's output is all there: the job is final, and its device did not send the result ahead of
 * output still on its way (or it did, and has since said the output is complete, or the reservation is gone).
 */
async function outputSettled(deps: JobDeps, job: Job): Promise<boolean> {
  if (!isFinalJob(job.status)) return false;
  if (!job.reservationId || !job.deviceId) return true;
  const r = await deps.repos.reservations.get(job.deviceId, job.reservationId);
  return !r?.outputPending || r.state === "deleted";
}

/** `GET /api/v1/jobs/{id}/output`: all output so far, numbered from 1 (jobs.md §6). */
export async function jobOutput(deps: JobDeps, user: UserPrincipal, id: string, stream: Stream) {
  const job = await visibleJob(deps, user, id);
  if (!job.reservationId && !job.cloudReservationId) throw noOutput(id);
  // Before the read: output that completes after this check is then at worst reported as not complete.
  const complete = await outputSettled(deps, job);
  const chunks = job.cloudReservationId
    ? (await cloudLines(deps, job)).chunks
    : await nextChunks(deps, job.reservationId!, 0);
  const lines = chunks.filter((c) => stream === "mixed" || c.stream === stream);
  if (lines.length === 0) throw noOutput(id);
  return {
    output: lines.map((c, i): OutputLine => ({ seqId: i + 1, stream: c.stream, data: c.data })),
    complete,
  };
}

/** Waits for a job's output or events to change, or RECHECK_MS (a write in another process is not announced here). */
async function changed(deps: JobDeps, topics: string[], marks: number[], signal: AbortSignal) {
  await Promise.race(topics.map((t, i) => deps.feedWatcher.wait(t, marks[i]!, RECHECK_MS, signal)));
}

/** What a follower is told of the job besides its output: a change of this is a `status` item. */
const statusKey = (job: Job) => `${job.status}\n${job.statusCode ?? ""}\n${job.statusMessage ?? ""}`;

/**
 * An item of a follow stream, each with the cursor to resume after it (the SSE `id:`). `status` comes first
 * and whenever the job's status, code or message changes (why a pending job waits); `closing` when the
 * server is stopping (follow again from the cursor); `complete` last.
 */
export type FollowItem<C, T> =
  | (T & { cursor: C })
  | { status: Job; cursor: C }
  | { complete: Job; cursor: C }
  | { closing: true; cursor: C };

/**
 * `GET /api/v1/jobs/{id}/output?follow=true`: the output after `after` (a position: chunks of both streams
 * counted from 1, 0 for all of it), then each new chunk as it arrives, until the job is final and everything
 * it wrote has been sent. Unlike the plain read, a follower of a job with no output yet waits for it. The job
 * is looked up (404) before anything is streamed; the stream itself starts at once, whatever the job's state.
 */
export async function followJobOutput(
  deps: JobDeps,
  user: UserPrincipal,
  id: string,
  opts: { stream: Stream; after?: { position: number; log?: string } },
  signal: AbortSignal,
): Promise<AsyncGenerator<FollowItem<string, { line: OutputLine }>>> {
  const job = await visibleJob(deps, user, id);
  refuseWhileStopping(deps);
  return outputOf(deps, job, opts.stream, opts.after ?? { position: 0 }, signal);
}

/**
 * A server that is stopping answers new followers 503 (they come back with their cursor) rather than a
 * stream that would only say `closing`: a client on a kept-alive connection would otherwise spin on it.
 */
export function refuseWhileStopping(deps: JobDeps) {
  if (deps.feedWatcher.closed())
    throw new BerthError(
      ErrorCode.Unavailable,
      "the control plane is shutting down; follow again",
      undefined,
      {
        retryAfterSeconds: 1,
      },
    );
}

async function* outputOf(
  deps: JobDeps,
  first: Job,
  stream: Stream,
  after: { position: number; log?: string },
  signal: AbortSignal,
): AsyncGenerator<FollowItem<string, { line: OutputLine }>> {
  let job = first;
  const id = job.id;
  // The position reached: the last chunk (device) or log line (cloud) read, counted from the first.
  let position = after.position;
  let seqId = 0;
  // A cloud job's log is read on from the launcher's cursor the follower brought back (it points right after
  // line `position`), else from the start, skipping the lines already sent.
  let cloudCursor = first.cloudReservationId ? after.log : undefined;
  let resumedFrom = cloudCursor;
  let cloudRead = cloudCursor ? position : 0;
  /** The cursor of the last event: the position, with the log's cursor when it points right after it. */
  let cursor = String(position);
  let shown: string | undefined;
  while (!signal.aborted) {
    if (statusKey(job) !== shown) {
      shown = statusKey(job);
      yield { status: job, cursor };
    }
    const topics = [jobTopic(id), ...(job.reservationId ? [outputTopic(job.reservationId)] : [])];
    const marks = topics.map((t) => deps.feedWatcher.mark(t));
    const final = await outputSettled(deps, job);
    if (job.cloudReservationId) {
      // A launcher's cursor is its own (and per read): positions count its lines from the task's first.
      const read = await cloudLines(deps, job, cloudCursor).catch((err: unknown) => {
        // A log cursor the follower brought back that the log service refuses (altered, or too old): read
        // from the start instead, skipping what was sent. Any other failure is the launcher's.
        if (!resumedFrom || cloudCursor !== resumedFrom) throw err;
        cloudRead = 0;
        return cloudLines(deps, job, undefined);
      });
      resumedFrom = undefined;
      cloudCursor = read.cursor;
      const log = cloudCursor ? `~${Buffer.from(cloudCursor).toString("base64url")}` : "";
      for (const [i, c] of read.chunks.entries()) {
        if (++cloudRead <= position) continue;
        position = cloudRead;
        // The last line of a read carries the log's cursor: resuming there reads on, not from the start.
        cursor = i === read.chunks.length - 1 ? `${position}${log}` : String(position);
        if (stream !== "stderr") yield { line: { seqId: ++seqId, stream: c.stream, data: c.data }, cursor };
      }
    } else if (job.reservationId) {
      for (const c of await nextChunks(deps, job.reservationId, position)) {
        position = c.seq;
        cursor = String(position);
        if (stream === "mixed" || c.stream === stream)
          yield { line: { seqId: ++seqId, stream: c.stream, data: c.data }, cursor };
      }
    }
    // Final (and its output sealed), its output read after that: nothing more will come.
    if (final) {
      yield { complete: job, cursor };
      return;
    }
    await changed(deps, topics, marks, signal);
    // The server is stopping: say so, and end the stream (the follower follows again elsewhere).
    if (deps.feedWatcher.closed()) {
      yield { closing: true, cursor };
      return;
    }
    job = (await deps.repos.jobs.get(id)) ?? job;
  }
}

/**
 * `GET /api/v1/jobs/{id}/events`: the job's lifecycle events after `after` (an event id; all of them when
 * undefined) and, when following, as they happen. The job is looked up (404) before anything is streamed.
 */
export async function followJobEvents(
  deps: JobDeps,
  user: UserPrincipal,
  id: string,
  opts: { follow: boolean; after?: string },
  signal: AbortSignal,
): Promise<AsyncGenerator<FollowItem<string, { event: JobEvent }>>> {
  const job = await visibleJob(deps, user, id);
  if (opts.follow) refuseWhileStopping(deps);
  return eventsOf(deps, job, opts.follow, opts.after, signal);
}

async function* eventsOf(
  deps: JobDeps,
  first: Job,
  follow: boolean,
  after: string | undefined,
  signal: AbortSignal,
): AsyncGenerator<FollowItem<string, { event: JobEvent }>> {
  let job = first;
  const id = job.id;
  let shown: string | undefined;
  const cursor = () => after ?? "0";
  while (!signal.aborted) {
    const mark = deps.feedWatcher.mark(jobTopic(id));
    const final = isFinalJob(job.status);
    for (const event of await deps.repos.jobEvents.list(id, after)) {
      after = event.id;
      yield { event, cursor: event.id };
    }
    if (follow && statusKey(job) !== shown) {
      shown = statusKey(job);
      yield { status: job, cursor: cursor() };
    }
    if (final || !follow) {
      yield { complete: job, cursor: cursor() };
      return;
    }
    await changed(deps, [jobTopic(id)], [mark], signal);
    if (deps.feedWatcher.closed()) {
      yield { closing: true, cursor: cursor() };
      return;
    }
    job = (await deps.repos.jobs.get(id)) ?? job;
  }
}
