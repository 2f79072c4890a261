import { describe, expect, it } from "vitest";
import { Backoff, retryAfterMs } from "../../agent/backoff.ts";

describe("Backoff", () => {
  it("grows exponentially with full jitter up to the cap", () => {
    const top = new Backoff({ baseMs: 500, capMs: 60_000, random: () => 0.999999 });
    const waits = Array.from({ length: 10 }, () => top.next());
    expect(waits.slice(0, 4)).toEqual([499, 999, 1999, 3999]);
    expect(Math.max(...waits)).toBeLessThan(60_000);
    expect(waits.at(-1)).toBe(59_999);
    const bottom = new Backoff({ random: () => 0 });
    expect([bottom.next(), bottom.next()]).toEqual([0, 0]);
  });

  it("starts over after a reset", () => {
    const b = new Backoff({ baseMs: 100, random: () => 0.999999 });
    b.next();
    b.next();
    b.reset();
    expect(b.next()).toBe(99);
  });

  it("never waits less than a server's Retry-After", () => {
    const b = new Backoff({ random: () => 0 });
    expect(b.next(7000)).toBe(7000);
  });
});

describe("retryAfterMs", () => {
  it("reads seconds and HTTP dates", () => {
    expect(retryAfterMs("3")).toBe(3000);
    expect(retryAfterMs("Sun, 22 Nov 2026 12:00:10 GMT", Date.parse("Sun, 22 Nov 2026 12:00:00 GMT"))).toBe(
      10_000,
    );
    expect(retryAfterMs(undefined)).toBeUndefined();
    expect(retryAfterMs("soon")).toBeUndefined();
  });
});
