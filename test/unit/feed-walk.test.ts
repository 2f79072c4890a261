import { describe, expect, it } from "vitest";
import { bootCursor, walkFeed } from "../../shared/domain/feed.ts";

const now = new Date("2026-11-01T00:01:00.000Z");
const at = (secondsAgo: number) => new Date(now.getTime() - secondsAgo * 1000).toISOString();
const entry = (seq: number, secondsAgo = 60) => ({ seq, createdAt: at(secondsAgo) });

describe("walkFeed", () => {
  it("takes consecutive entries from the cursor and points past the last", () => {
    const walk = walkFeed([entry(3), entry(4), entry(5)], 3, now, 5000);
    expect(walk.taken.map((e) => e.seq)).toEqual([3, 4, 5]);
    expect(walk.next).toBe(6);
  });

  it("ignores entries below the cursor", () => {
    expect(walkFeed([entry(1), entry(2), entry(3)], 3, now, 5000).taken.map((e) => e.seq)).toEqual([3]);
  });

  it("holds back entries after a young gap (a write in flight) and says when it settles", () => {
    const walk = walkFeed([entry(3), entry(5, 1), entry(6, 0)], 3, now, 5000);
    expect(walk.taken.map((e) => e.seq)).toEqual([3]);
    expect(walk.next).toBe(4);
    expect(walk.settlesAt).toBe(now.getTime() - 1000 + 5000);
  });

  it("steps over an old gap (a writer that crashed after taking its number)", () => {
    const walk = walkFeed([entry(3), entry(5, 10), entry(6, 10)], 3, now, 5000);
    expect(walk.taken.map((e) => e.seq)).toEqual([3, 5, 6]);
    expect(walk.next).toBe(7);
  });

  it("steps over an old gap right at the cursor", () => {
    expect(walkFeed([entry(9, 30)], 7, now, 5000)).toEqual({ taken: [entry(9, 30)], next: 10 });
  });

  it("leaves the cursor where it is when there is nothing", () => {
    expect(walkFeed([], 7, now, 5000)).toEqual({ taken: [], next: 7 });
  });

  it("sorts what it is given", () => {
    expect(walkFeed([entry(2), entry(1)], 1, now, 5000).taken.map((e) => e.seq)).toEqual([1, 2]);
  });
});

describe("bootCursor", () => {
  it("resumes after the newest entry", () => {
    expect(bootCursor([entry(10), entry(11), entry(12)], now, 5000)).toBe(13);
  });

  it("resumes at a young gap, so a write still in flight is not skipped", () => {
    expect(bootCursor([entry(10), entry(12, 1)], now, 5000)).toBe(11);
  });

  it("starts at 1 for an empty feed", () => {
    expect(bootCursor([], now, 5000)).toBe(1);
  });
});
