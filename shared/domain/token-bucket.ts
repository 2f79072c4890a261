/**
 * A token bucket: at most `burst` calls at once, then `perSecond` on average. `take()` resolves when the
 * caller may go; waiters go in order. Time comes from `now` and waiting from `sleep` (tests step them).
 */
export class TokenBucket {
  readonly perSecond: number;
  readonly burst: number;
  #tokens: number;
  #last: number;
  #queue: Promise<void> = Promise.resolve();
  #now: () => number;
  #sleep: (ms: number) => Promise<void>;

  constructor(
    perSecond: number,
    burst: number,
    now: () => number = () => performance.now(),
    sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {
    if (!(perSecond > 0) || !(burst >= 1))
      throw new Error("a token bucket needs perSecond > 0 and burst ≥ 1");
    this.perSecond = perSecond;
    this.burst = burst;
    this.#tokens = burst;
    this.#now = now;
    this.#last = now();
    this.#sleep = sleep;
  }

  #refill() {
    const now = this.#now();
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#last) / 1000) * this.perSecond);
    this.#last = now;
  }

  /** Waits for a token and takes it. */
  take(): Promise<void> {
    const turn = this.#queue.then(async () => {
      this.#refill();
      while (this.#tokens < 1) {
        await this.#sleep(((1 - this.#tokens) / this.perSecond) * 1000);
        this.#refill();
      }
      this.#tokens -= 1;
    });
    this.#queue = turn;
    return turn;
  }
}
