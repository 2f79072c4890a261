import type { ApiClient } from "./client.ts";
import { followSse } from "./sse.ts";

/** What a follower shows of a job besides its output (the `status` events of a follow stream). */
interface JobStatus {
  status?: string;
  statusCode?: string;
  statusMessage?: string;
}

interface JobEnd extends JobStatus {
  exitCode?: number;
}

const say = (line: string) => process.stderr.write(`berth: ${line}\n`);

/** The line that says why a job waits: its statusCode and message. */
export const pendingLine = (id: string, s: JobStatus) =>
  `job ${id} pending (${s.statusCode ?? "Pending"}): ${s.statusMessage ?? "waiting"}`;

const statusKey = (s: JobStatus) => `${s.statusCode}\n${s.statusMessage}`;

export interface FollowJobOptions {
  /** Show its lifecycle events (accepted, placed, started...) on stderr: `berth run`. */
  progress?: boolean;
  /** stdout, stderr or mixed (the default). */
  stream?: string;
  /** The job as already shown (by `berth run` after submitting it): its pending reason is not repeated. */
  shown?: JobStatus;
  /** Say where it can be reached once it runs (`berth run -p`): its endpoints (GET .../network). */
  endpoints?: boolean;
}

/** The job's endpoints, once, on stderr (best effort: an older server has no network route). */
async function sayEndpoints(client: ApiClient, path: string): Promise<void> {
  try {
    const net = await client.request<{ endpoints?: string[] }>("GET", `${path}/network`);
    if (net.endpoints?.length) say(`endpoints: ${net.endpoints.join(" ")}`);
  } catch {
    // not running any more, or not known: the output says the rest
  }
}

/**
 * Follows a job to its end: output on stdout/stderr as it comes, why it waits while it is pending (once,
 * and again when that changes), and with `progress` its lifecycle on stderr. The streams reconnect and
 * resume by themselves (the server restarting, a proxy cutting a quiet stream) for as long as it takes;
 * nothing times out. Returns the process exit code, like `docker run`: the job's own exit code; 125 when it
 * could not start; 137 killed; 130 canceled. Throws on a final error (no such job).
 */
export async function followJob(client: ApiClient, id: string, opts: FollowJobOptions = {}): Promise<number> {
  const path = `/jobs/${encodeURIComponent(id)}`;
  const stop = new AbortController();
  const progress = opts.progress
    ? (async () => {
        try {
          for await (const e of followSse(
            client,
            `${path}/events`,
            { follow: "true" },
            { signal: stop.signal },
          )) {
            if (["status", "closing", "complete"].includes(e.event)) continue;
            const event = JSON.parse(e.data) as { type: string; message: string };
            if (event.type !== "exited") say(`${event.type}: ${event.message}`);
          }
        } catch {
          // progress is best effort; the output stream decides the outcome
        }
      })()
    : Promise.resolve();

  let shown = opts.shown && statusKey(opts.shown);
  let endpointsShown = false;
  let done: JobEnd = {};
  for await (const e of followSse(
    client,
    `${path}/output`,
    { follow: "true", ...(opts.stream ? { stream: opts.stream } : {}) },
    {
      onLost: (reason) =>
        say(`connection lost (${reason}); job ${id} goes on; reconnecting, to resume where this left off`),
      onBack: () => say("reconnected"),
    },
  )) {
    if (e.event === "output") {
      const line = JSON.parse(e.data) as { stream: string; data: string };
      (line.stream === "stderr" ? process.stderr : process.stdout).write(line.data);
    } else if (e.event === "status") {
      const s = JSON.parse(e.data) as JobStatus;
      if (opts.endpoints && s.status === "Running" && !endpointsShown) {
        endpointsShown = true;
        void sayEndpoints(client, path);
      }
      // With progress on, its `placed` event says where the job went.
      if (s.status !== "Pending" || (opts.progress && s.statusCode === "Placed")) continue;
      if (statusKey(s) === shown) continue;
      shown = statusKey(s);
      say(pendingLine(id, s));
    } else if (e.event === "complete") {
      done = JSON.parse(e.data) as JobEnd;
    }
  }
  // The progress stream ends by itself once the job is final; give it a moment to print its last lines.
  let grace: NodeJS.Timeout | undefined;
  await Promise.race([progress, new Promise((r) => (grace = setTimeout(r, 2000)))]);
  clearTimeout(grace);
  stop.abort();
  await progress;
  return exitCodeOf(id, done);
}

/** `docker run`'s exit code for a job's end, saying on stderr why when it is not the program's own. */
function exitCodeOf(id: string, done: JobEnd): number {
  switch (done.status) {
    case "Finished":
      return done.exitCode ?? 0;
    case "Killed":
      say(`job ${id} was killed: ${done.statusMessage ?? ""}`);
      return done.exitCode ?? 137;
    case "Canceled":
      say(`job ${id} was canceled`);
      return 130;
    default:
      say(`job ${id} failed: ${done.statusMessage ?? done.status ?? "unknown"}`);
      return 125;
  }
}
