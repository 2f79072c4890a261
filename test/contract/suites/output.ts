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
  });
}
