import { describe, expect, it } from "vitest";
import { newId } from "../../../shared/domain/ids.ts";
import type { ContractContext } from "./context.ts";

export function outputContract(ctx: ContractContext) {
  const { repos } = ctx;

  describe("OutputRepository", () => {
    it("keeps the first chunk of each seq, lists them in seq order, by stream", async () => {
      const id = newId();
      const exp = "2026-11-02T00:00:00.000Z";
      const at = "2026-11-01T00:00:00.000Z";
      expect(await repos().output.append(id, { stream: "stdout", seq: 2, data: "b" }, at, exp)).toBe(true);
      expect(await repos().output.append(id, { stream: "stderr", seq: 10, data: "e" }, at, exp)).toBe(true);
      expect(await repos().output.append(id, { stream: "stdout", seq: 1, data: "a" }, at, exp)).toBe(true);
      const racing = await Promise.all([
        repos().output.append(id, { stream: "stdout", seq: 3, data: "c" }, at, exp),
        repos().output.append(id, { stream: "stdout", seq: 3, data: "C" }, at, exp),
      ]);
      expect(racing.sort()).toEqual([false, true]);
      const all = await repos().output.list(id, { limit: 10 });
      expect(all.items.map((c) => c.seq)).toEqual([1, 2, 3, 10]);
      const stdout = await repos().output.list(id, { limit: 10 }, "stdout");
      expect(
        stdout.items
          .map((c) => c.data)
          .join("")
          .toLowerCase(),
      ).toBe("abc");
    });

    it("reads back more than a storage page holds (DynamoDB pages at 1 MB): 3 MiB in 48 chunks", async () => {
      const id = newId();
      const exp = "2026-11-02T00:00:00.000Z";
      const data = "x".repeat(64 * 1024);
      for (let seq = 1; seq <= 48; seq++)
        await repos().output.append(id, { stream: "stdout", seq, data }, "2026-11-01T00:00:00.000Z", exp);
      const chunks = await repos().output.since(id, 0, 500);
      expect(chunks.map((c) => c.seq)).toEqual(Array.from({ length: 48 }, (_, i) => i + 1));
      expect(chunks.reduce((n, c) => n + c.data.length, 0)).toBe(48 * 64 * 1024);
    });

    it("counts bytes and drops the oldest chunks first, each uncounted once when two trims race", async () => {
      const id = newId();
      const exp = "2026-11-02T00:00:00.000Z";
      const at = "2026-11-01T00:00:00.000Z";
      for (let seq = 1; seq <= 40; seq++)
        await repos().output.append(id, { stream: "stdout", seq, data: "é".repeat(50) }, at, exp); // 100 bytes
      expect(await repos().output.countBytes(id, 3000, at, exp)).toBe(3000);
      expect(await repos().output.countBytes(id, 1000, at, exp)).toBe(4000);
      // Two trims at once, each asking for 1,050 bytes: 11 chunks each at least, none deleted twice.
      const freed = await Promise.all([
        repos().output.dropOldest(id, 1050),
        repos().output.dropOldest(id, 1050),
      ]);
      const left = await repos().output.since(id, 0, 100);
      const gone = 40 - left.length;
      expect(freed[0]! + freed[1]!).toBe(gone * 100);
      expect(gone).toBeGreaterThanOrEqual(11);
      // The oldest went, the newest stayed, and the count is what is left.
      expect(left.map((c) => c.seq)).toEqual(Array.from({ length: 40 - gone }, (_, i) => gone + 1 + i));
      expect(await repos().output.countBytes(id, 0, at, exp)).toBe(4000 - gone * 100);
      // Asking for more than there is deletes everything there is.
      expect(await repos().output.dropOldest(id, 1_000_000)).toBe((40 - gone) * 100);
      expect(await repos().output.since(id, 0, 100)).toEqual([]);
    });

    it("counts bytes per day of receipt: a day's count goes with that day's output", async () => {
      const id = newId();
      const day1 = "2026-11-01T10:00:00.000Z";
      const day2 = "2026-11-02T10:00:00.000Z";
      const keep = (at: string) => new Date(Date.parse(at) + 7 * 86_400_000).toISOString();
      expect(await repos().output.countBytes(id, 3000, day1, keep(day1))).toBe(3000);
      expect(await repos().output.countBytes(id, 500, day2, keep(day2))).toBe(3500);
      // Day 1's output has expired by day 8 at 10:00 (kept 7 days): its count with it.
      const day8 = "2026-11-08T10:00:01.000Z";
      expect(await repos().output.countBytes(id, 100, day8, keep(day8))).toBe(600);
    });
  });
}
