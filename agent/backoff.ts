/**
 * Exponential backoff with full jitter (a random wait between 0 and min(cap, base·2^n)), so that a fleet
 * of agents that lost the control plane at once does not come back at once. A server's Retry-After wins.
 */
export class Backoff {
  #attempt = 0;
  readonly baseMs: number;
  readonly capMs: number;
  readonly random: () => number;

  constructor(opts: { baseMs?: number; capMs?: number; random?: () => number } = {}) {
    this.baseMs = opts.baseMs ?? 500;
    this.capMs = opts.capMs ?? 60_000;
    this.random = opts.random ?? Math.random;
  }

  /** The next wait in ms. `retryAfterMs` (from a Retry-After header) is honoured as a floor. */
  next(retryAfterMs?: number): number {
    const ceiling = Math.min(this.capMs, this.baseMs * 2 ** this.#attempt);
    this.#attempt = Math.min(this.#attempt + 1, 30);
    const jittered = Math.floor(this.random() * ceiling);
    return retryAfterMs !== undefined ? Math.max(retryAfterMs, jittered) : jittered;
  }

  reset(): void {
    this.#attempt = 0;
  }

  get attempts(): number {
    return this.#attempt;
  }
}

/** A Retry-After header (seconds, or an HTTP date) in ms; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null | undefined, now = Date.now()): number | undefined {
  if (!header) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Waits `ms`, or less if `signal` aborts; leaves no listener behind either way. */
export const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    if (signal.aborted) done();
    else signal.addEventListener("abort", done, { once: true });
  });
