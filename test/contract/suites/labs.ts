import { describe, expect, it } from "vitest";
import type { StoredLabConfig } from "../../../shared/domain/lab.ts";
import { LabConfig } from "../../../shared/domain/lab.ts";
import { type ContractContext, ws } from "./context.ts";

export function labContract(ctx: ContractContext) {
  describe("LabRepository", () => {
    it("stores the lab config only at the revision read (none: only if absent), and user quota overrides", async () => {
      const labs = ctx.repos().labs;
      const w = ws();
      const config = (revision: number, port: number): StoredLabConfig => ({
        ...LabConfig.parse({
          sizes: ["small"],
          defaultSize: "small",
          images: { recommended: "lab:1" },
          port,
        }),
        revision,
        updatedAt: "2026-12-02T00:00:00.000Z",
      });
      expect(await labs.config(w)).toBeUndefined();
      // Two first writes at once: one wins.
      const first = await Promise.all([
        labs.putConfig(w, config(1, 8888), undefined),
        labs.putConfig(w, config(1, 9999), undefined),
      ]);
      expect(first.filter(Boolean)).toHaveLength(1);
      const stored = (await labs.config(w))!;
      expect(stored.revision).toBe(1);
      expect(await labs.putConfig(w, config(2, 7000), 5)).toBe(false);
      expect(await labs.putConfig(w, config(2, 7000), 1)).toBe(true);
      expect((await labs.config(w))?.port).toBe(7000);

      expect(await labs.quota(w, "alice")).toBeUndefined();
      await labs.putQuota(w, "alice", { gpus: 0, spawn: false });
      expect(await labs.quota(w, "alice")).toEqual({ gpus: 0, spawn: false });
      expect(await labs.quota(ws(), "alice")).toBeUndefined();
      await labs.putQuota(w, "alice", {});
      expect(await labs.quota(w, "alice")).toBeUndefined();
    });
  });
}
