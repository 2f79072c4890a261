import type { Clock } from "../../shared/ports/clock.ts";

export type ManualClock = Clock & { advance(ms: number): void; set(d: Date): void };

/** A clock tests move by hand. */
export function manualClock(start = new Date("2026-11-01T10:00:00.000Z")): ManualClock {
  let now = start.getTime();
  return {
    now: () => new Date(now),
    advance: (ms) => {
      now += ms;
    },
    set: (d) => {
      now = d.getTime();
    },
  };
}
