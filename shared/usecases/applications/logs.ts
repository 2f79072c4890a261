import type { Deployment } from "../../domain/application.ts";
import { BerthError, ErrorCode, notFound } from "../../domain/errors.ts";
import type { StoredOutputChunk } from "../../domain/output.ts";
import { outputTopic } from "../jobs/job-events.ts";
import { nextChunks, RECHECK_MS, refuseWhileStopping } from "../jobs/job-output.ts";
import { type ApplicationDeps, findApplication } from "./applications.ts";

/** A line of an application's log on one device: Synpse `LogsOpts {Container, Device, Follow, Tail}`. */
export type AppLogLine = { seqId: number; stream: "stdout" | "stderr"; container?: string; data: string };

export interface LogsOptions {
  container?: string;
  stream: "stdout" | "stderr" | "mixed";
  /** The last N lines only (of what the other options select). */
  tail?: number;
}

/** The deployment of an application (by name or id) on a device: 404 when it has none there. */
export async function deploymentOn(
  deps: ApplicationDeps,
  ws: string,
  ns: string,
  ref: string,
  deviceId: string,
): Promise<Deployment> {
  const app = await findApplication(deps, ws, ns, ref);
  const d = await deps.repos.deployments.get(app.id, deviceId);
  if (!d) throw notFound(`application ${app.name} has no deployment on device ${deviceId}`);
  return d;
}

const selects = (o: LogsOptions) => (c: StoredOutputChunk) =>
  (o.stream === "mixed" || c.stream === o.stream) && (!o.container || c.container === o.container);

/**
 * The chunks that hold the last `n` lines (the first one cut to where they start). Lines of different
 * containers and streams interleave as they arrived: this is the tail of what was selected, as stored.
 */
export function tailOf<T extends { data: string }>(chunks: T[], n: number): T[] {
  if (n <= 0) return [];
  let breaks = 0;
  for (let i = chunks.length - 1; i >= 0; i--) {
    const data = chunks[i]!.data;
    // The newline that ends the very last line does not start another.
    const end = i === chunks.length - 1 && data.endsWith("\n") ? data.length - 1 : data.length;
    for (let j = end - 1; j >= 0; j--)
      if (data[j] === "\n" && ++breaks === n) {
        const first = { ...chunks[i]!, data: data.slice(j + 1) };
        return [...(first.data ? [first] : []), ...chunks.slice(i + 1)];
      }
  }
  return chunks;
}

/**
 * Where a reservation's kept output starts: an application's chunks expire a week after they came (its
 * reservation lasts a year), and reads go on only over consecutive seqs, so they start at the oldest kept.
 */
async function keptFrom(deps: ApplicationDeps, reservationId: string, after = 0): Promise<number> {
  const [first] = await deps.repos.output.since(reservationId, after, 1);
  return first ? Math.max(after, first.seq - 1) : after;
}

const noLogs = (deviceId: string) =>
  new BerthError(ErrorCode.JobOutputNotFound, `no output from the application on device ${deviceId} yet`);

/** `GET …/applications/{app}/devices/{device}/logs`: what the deployment's current reservation wrote. */
export async function deploymentLogs(
  deps: ApplicationDeps,
  ws: string,
  ns: string,
  ref: string,
  deviceId: string,
  opts: LogsOptions,
): Promise<{ output: AppLogLine[]; reservationId: string }> {
  const d = await deploymentOn(deps, ws, ns, ref, deviceId);
  let chunks = (await nextChunks(deps, d.reservationId, await keptFrom(deps, d.reservationId))).filter(
    selects(opts),
  );
  if (opts.tail !== undefined) chunks = tailOf(chunks, opts.tail);
  if (chunks.length === 0) throw noLogs(deviceId);
  return { output: chunks.map((c, i) => lineOf(c, i + 1)), reservationId: d.reservationId };
}

const lineOf = (c: Pick<StoredOutputChunk, "stream" | "container" | "data">, seqId: number): AppLogLine => ({
  seqId,
  stream: c.stream,
  ...(c.container ? { container: c.container } : {}),
  data: c.data,
});

/** Where a log follower resumes: the reservation it read and the last chunk's seq in it. */
export type LogCursor = { reservationId: string; seq: number };

export type LogItem =
  | { line: AppLogLine; cursor: string }
  | { gone: true; cursor: string }
  | { closing: true; cursor: string };

/**
 * `…/logs?follow=true`: the tail (or everything after a cursor), then each new chunk as it arrives. A
 * deployment that moves to a successor (an update, a renewal) is followed onto it; the stream ends (`gone`)
 * when the deployment is removed. The deployment is looked up (404) before anything is streamed.
 */
export async function followDeploymentLogs(
  deps: ApplicationDeps,
  ws: string,
  ns: string,
  ref: string,
  deviceId: string,
  opts: LogsOptions & { after?: LogCursor },
  signal: AbortSignal,
): Promise<AsyncGenerator<LogItem>> {
  const first = await deploymentOn(deps, ws, ns, ref, deviceId);
  refuseWhileStopping(deps);
  return follow(deps, first, opts, signal);
}

async function* follow(
  deps: ApplicationDeps,
  first: Deployment,
  opts: LogsOptions & { after?: LogCursor },
  signal: AbortSignal,
): AsyncGenerator<LogItem> {
  let d: Deployment | undefined = first;
  let reservationId = first.reservationId;
  let seq = await keptFrom(
    deps,
    reservationId,
    opts.after?.reservationId === reservationId ? opts.after.seq : 0,
  );
  let tail = opts.after ? undefined : opts.tail;
  let seqId = 0;
  const cursor = () => `${reservationId}.${seq}`;
  const wanted = selects(opts);
  while (!signal.aborted) {
    const mark = deps.feedWatcher.mark(outputTopic(reservationId));
    const read = await nextChunks(deps, reservationId, seq);
    let chunks = read.filter(wanted);
    if (tail !== undefined) chunks = tailOf(chunks, tail);
    tail = undefined;
    for (const c of chunks) {
      // Every chunk read moves the cursor, selected or not: a resume does not read them again.
      seq = c.seq;
      yield { line: lineOf(c, ++seqId), cursor: cursor() };
    }
    if (read.length > 0) seq = read.at(-1)!.seq;
    await deps.feedWatcher.wait(outputTopic(reservationId), mark, RECHECK_MS, signal);
    if (deps.feedWatcher.closed()) {
      yield { closing: true, cursor: cursor() };
      return;
    }
    d = await deps.repos.deployments.get(first.applicationId, first.deviceId);
    if (!d) {
      yield { gone: true, cursor: cursor() };
      return;
    }
    if (d.reservationId !== reservationId) {
      reservationId = d.reservationId;
      seq = 0;
    }
  }
}
