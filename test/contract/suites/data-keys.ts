import { describe, expect, it } from "vitest";
import { type ContractContext, ws } from "./context.ts";

export function dataKeyContract(ctx: ContractContext) {
  describe("DataKeyRepository", () => {
    it("stores a workspace's wrapped key once: a second create of the id is refused and changes nothing", async () => {
      const w = ws();
      const key = { workspaceId: w, keyId: "k1", wrapped: "n.ct", createdAt: "2026-12-01T00:00:00.000Z" };
      expect(await ctx.repos().dataKeys.get(w, "k1")).toBeUndefined();
      expect(await ctx.repos().dataKeys.create(key)).toBe(true);
      expect(await ctx.repos().dataKeys.create({ ...key, wrapped: "other" })).toBe(false);
      expect(await ctx.repos().dataKeys.get(w, "k1")).toEqual(key);
      expect(await ctx.repos().dataKeys.get(ws(), "k1")).toBeUndefined();
    });
  });
}
