import { readSse, type SseEvent } from "../shared/contracts/sse.ts";
import { type ApiClient, ApiError } from "./client.ts";

export { readSse, type SseEvent } from "../shared/contracts/sse.ts";

export interface FollowOptions {
  /** Ends the follow: the generator returns. */
  signal?: AbortSignal;
  /** Called once when the stream is lost (it is retried), with why; then `onBack` once it is back. */
  onLost?: (reason: string) => void;
  onBack?: () => void;
  /** The first reconnect delay, doubled on each failure up to `capMs`; jitter takes up to half off each. */
  backoff?: { firstMs: number; capMs: number };
  /** A connection silent this long (not even a keep-alive comment, sent every 15 s) is taken for dead. */
  idleMs?: number;
}

const BACKOFF = { firstMs: 250, capMs: 5000 };
const IDLE_MS = 90_000;

/** The delay before reconnect attempt `failures` (0 = the first): exponential, capped, with jitter. */
export function reconnectDelay(failures: number, backoff = BACKOFF, random = Math.random): number {
  const ceiling = Math.min(backoff.capMs, backoff.firstMs * 2 ** Math.min(failures, 30));
  return ceiling / 2 + (random() * ceiling) / 2;
}

/** Resolves after `ms`, or at once when `signal` aborts. The timer keeps the process alive meanwhile. */
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });

/**
 * Follows a follow stream of the API (a job's output or events) to its `complete` event, across broken
 * connections and server restarts: each reconnect sends the last event id received as `Last-Event-ID`, so
 * the server resumes after it and nothing is lost or repeated. The server unreachable, a 5xx, 408 or 429, a
 * stream cut short (`closing`, a proxy's idle timeout, a silent connection): reconnect with backoff, for as
 * long as it takes. Any other 4xx (no such job, a revoked key) is thrown. A `continue` event (a host that
 * answers follows in windows, such as the API on Lambda) is not passed on: the next window is asked for at once.
 */
export async function* followSse(
  client: ApiClient,
  path: string,
  query: Record<string, string>,
  opts: FollowOptions = {},
): AsyncGenerator<SseEvent> {
  let lastId: string | undefined;
  let failures = 0;
  let lost = false;
  const idleMs = opts.idleMs ?? IDLE_MS;
  while (!opts.signal?.aborted) {
    const connection = new AbortController();
    const signal = opts.signal ? AbortSignal.any([opts.signal, connection.signal]) : connection.signal;
    let idle: NodeJS.Timeout | undefined;
    let silent = false;
    const alive = () => {
      clearTimeout(idle);
      idle = setTimeout(() => {
        silent = true;
        connection.abort();
      }, idleMs);
    };
    let reason = "the stream ended";
    let again = false;
    try {
      alive();
      const res = await client.raw("GET", path, {
        query,
        signal,
        headers: lastId === undefined ? {} : { "last-event-id": lastId },
      });
      for await (const e of readSse(res.body!, alive)) {
        if (e.id !== undefined) lastId = e.id;
        if (e.event === "continue") {
          again = true;
          continue;
        }
        if (e.event === "closing") reason = "the control plane is shutting down";
        else {
          // Only a stream that says something counts as working: one that ends at once backs off.
          failures = 0;
          if (lost) {
            lost = false;
            opts.onBack?.();
          }
        }
        yield e;
        if (e.event === "complete") return;
      }
    } catch (err) {
      if (opts.signal?.aborted) return;
      if (err instanceof ApiError) {
        if (!err.transient) throw err;
        reason = err.reason;
      } else if (silent) reason = `nothing heard for ${Math.round(idleMs / 1000)} s`;
      else reason = causeOf(err);
    } finally {
      clearTimeout(idle);
      connection.abort();
    }
    if (opts.signal?.aborted) return;
    // The window ended as planned: nothing was lost, and nothing to wait for.
    if (again) {
      failures = 0;
      continue;
    }
    if (!lost) {
      lost = true;
      opts.onLost?.(reason);
    }
    await sleep(reconnectDelay(failures++, opts.backoff), opts.signal);
  }
}

/** "ECONNRESET", "terminated": what broke a stream, briefly. */
function causeOf(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message;
}
