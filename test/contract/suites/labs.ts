import { describe, expect, it } from "vitest";
import type { StoredLabConfig } from "../../../shared/domain/lab.ts";
import { LabConfig } from "../../../shared/domain/lab.ts";
import type { LabItem } from "../../../shared/domain/lab-state.ts";
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

    it("lists the workspaces with a config; writes a lab item at the version read (none: only if absent), lists and removes it", async () => {
      const labs = ctx.repos().labs;
      const w = ws();
      const base = LabConfig.parse({
        sizes: ["small"],
        defaultSize: "small",
        images: { recommended: "lab:1" },
      });
      expect(
        await labs.putConfig(w, { ...base, revision: 1, updatedAt: "2026-12-02T00:00:00.000Z" }, undefined),
      ).toBe(true);
      expect(await labs.configured(1000)).toContain(w);

      const item = (user: string, v: number, kind: "lab" | "fileserver" = "lab"): LabItem => ({
        workspaceId: w,
        user,
        kind,
        ownerKeyId: "k1",
        jobId: `job-${user}-${v}`,
        operation: "spawn",
        operationId: `op-${v}`,
        operationAt: "2026-12-02T00:00:00.000Z",
        options: { image: "lab:1", size: "small", enableDebug: false, resetUserEnv: false },
        resources: { cpu: 1, memoryGiB: 2, gpus: 0 },
        expiresAt: "2026-12-03T00:00:00.000Z",
        createdAt: "2026-12-02T00:00:00.000Z",
        updatedAt: "2026-12-02T00:00:00.000Z",
        v,
      });
      // Two first spawns at once: one item.
      const first = await Promise.all([
        ctx.repos().commit([labs.put(item("alice", 1), undefined)]),
        ctx.repos().commit([labs.put({ ...item("alice", 1), jobId: "other" }, undefined)]),
      ]);
      expect(first.filter((x) => x.ok)).toHaveLength(1);
      const stored = (await labs.get(w, "lab", "alice"))!;
      expect(stored.v).toBe(1);
      expect((await ctx.repos().commit([labs.put(item("alice", 2), 7)])).ok).toBe(false);
      expect((await ctx.repos().commit([labs.put(item("alice", 2), 1)])).ok).toBe(true);
      expect((await labs.get(w, "lab", "alice"))?.jobId).toBe("job-alice-2");
      await ctx
        .repos()
        .commit([labs.put(item("bob", 1), undefined), labs.put(item("alice", 1, "fileserver"), undefined)]);
      expect((await labs.list(w, "lab", { limit: 10 })).items.map((l) => l.user)).toEqual(["alice", "bob"]);
      expect((await labs.list(w, "fileserver", { limit: 10 })).items.map((l) => l.user)).toEqual(["alice"]);
      const page = await labs.list(w, "lab", { limit: 1 });
      expect(page.items).toHaveLength(1);
      expect((await labs.list(w, "lab", { limit: 1, cursor: page.cursor })).items.map((l) => l.user)).toEqual(
        ["bob"],
      );
      expect(await labs.get(ws(), "lab", "alice")).toBeUndefined();
      // Removed only at the version read.
      expect(await labs.remove({ ...stored, v: 1 })).toBe(false);
      expect(await labs.remove({ ...stored, v: 2 })).toBe(true);
      expect(await labs.get(w, "lab", "alice")).toBeUndefined();
      expect(await labs.get(w, "fileserver", "alice")).toBeDefined();
    });

    it("keeps the prepuller's state at the version read", async () => {
      const labs = ctx.repos().labs;
      const w = ws();
      const state = (v: number) => ({
        lastRunAt: "2026-12-02T00:00:00.000Z",
        inFlight: { d1: { image: "lab:1", reservationId: `r${v}` } },
        marked: { d2: { "lab:1": "2026-12-02T00:00:00.000Z" } },
        v,
      });
      expect(await labs.prepullState(w)).toBeUndefined();
      const first = await Promise.all([
        labs.putPrepullState(w, state(1), undefined),
        labs.putPrepullState(w, state(1), undefined),
      ]);
      expect(first.filter(Boolean)).toHaveLength(1);
      expect(await labs.putPrepullState(w, state(2), 5)).toBe(false);
      expect(await labs.putPrepullState(w, state(2), 1)).toBe(true);
      expect(await labs.prepullState(w)).toEqual(state(2));
    });
  });
}
