import { describe, expect, it } from "vitest";
import { type ContractContext, ws } from "./context.ts";

export function clusterContract(ctx: ContractContext) {
  describe("ClusterRepository", () => {
    it("stores the cluster config only at the revision read (none: only if absent)", async () => {
      const cluster = ctx.repos().cluster;
      const w = ws();
      const config = (revision: number, images: string[]) => ({
        images,
        allowUnknownImages: false,
        revision,
        updatedAt: "2026-12-02T00:00:00.000Z",
      });
      expect(await cluster.config(w)).toBeUndefined();
      // Two first writes at once: one wins.
      const first = await Promise.all([
        cluster.putConfig(w, config(1, ["a"]), undefined),
        cluster.putConfig(w, config(1, ["b"]), undefined),
      ]);
      expect(first.filter(Boolean)).toHaveLength(1);
      expect(await cluster.putConfig(w, config(2, ["c"]), 7)).toBe(false);
      expect(await cluster.putConfig(w, { ...config(2, ["c"]), defaultImage: "c" }, 1)).toBe(true);
      expect(await cluster.config(w)).toEqual({ ...config(2, ["c"]), defaultImage: "c" });
      expect(await cluster.config(ws())).toBeUndefined();
    });

    it("gives the rebuild lease of a stale or missing summary to one caller, and keeps the newest summary", async () => {
      const cluster = ctx.repos().cluster;
      const w = ws();
      const at = (now: string, until: string, staleBefore: string) => ({ now, until, staleBefore });
      const t0 = "2026-12-02T10:00:00.000Z";
      // No summary yet: of many callers at once, one takes the lease.
      const taken = await Promise.all(
        Array.from({ length: 5 }, () =>
          cluster.leaseRebuild(w, at(t0, "2026-12-02T10:00:30.000Z", "2026-12-02T09:59:00.000Z")),
        ),
      );
      expect(taken.filter(Boolean)).toHaveLength(1);
      expect((await cluster.summary(w))?.info).toBeUndefined();
      expect(await cluster.putSummary(w, { queues: ["a"] }, t0)).toBe(true);
      expect(await cluster.summary(w)).toEqual({ info: { queues: ["a"] }, generatedAt: t0 });
      // Fresh (built after staleBefore): no lease.
      expect(
        await cluster.leaseRebuild(
          w,
          at("2026-12-02T10:00:20.000Z", "2026-12-02T10:00:50.000Z", "2026-12-02T09:59:20.000Z"),
        ),
      ).toBe(false);
      // Stale: one lease; while it is held nobody else gets one; once it has run out, another caller does.
      const t1 = "2026-12-02T10:01:10.000Z";
      expect(
        await cluster.leaseRebuild(w, at(t1, "2026-12-02T10:01:40.000Z", "2026-12-02T10:00:10.000Z")),
      ).toBe(true);
      expect(
        await cluster.leaseRebuild(w, at(t1, "2026-12-02T10:01:40.000Z", "2026-12-02T10:00:10.000Z")),
      ).toBe(false);
      expect(await cluster.summary(w)).toMatchObject({
        info: { queues: ["a"] },
        rebuildingUntil: "2026-12-02T10:01:40.000Z",
      });
      expect(
        await cluster.leaseRebuild(
          w,
          at("2026-12-02T10:01:41.000Z", "2026-12-02T10:02:11.000Z", "2026-12-02T10:00:41.000Z"),
        ),
      ).toBe(true);
      // The later rebuild lands first; the earlier one's summary is refused.
      expect(await cluster.putSummary(w, { queues: ["c"] }, "2026-12-02T10:01:41.000Z")).toBe(true);
      expect(await cluster.putSummary(w, { queues: ["b"] }, t1)).toBe(false);
      expect(await cluster.summary(w)).toEqual({
        info: { queues: ["c"] },
        generatedAt: "2026-12-02T10:01:41.000Z",
      });
    });
  });
}
