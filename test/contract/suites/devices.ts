import { describe, expect, it } from "vitest";
import { newId } from "../../../shared/domain/ids.ts";
import { type ContractContext, codeOf, commits, ws } from "./context.ts";
import { aDevice } from "./fixtures.ts";

export function deviceContract(ctx: ContractContext) {
  const { repos } = ctx;
  const later = "2026-11-02T00:00:00.000Z";

  describe("DeviceRepository", () => {
    it("stores a device with its presence, reads it back and never overwrites one", async () => {
      const device = aDevice(ws());
      expect(await commits(repos(), repos().devices.create(device, { hostname: "gpu-1" }))).toBe(true);
      expect(await repos().devices.get(device.id)).toEqual(device);
      const { lastSeenAt: _, ...identity } = device;
      expect(await repos().devices.identity(device.id)).toEqual(identity);
      expect(await commits(repos(), repos().devices.create({ ...device, name: "other" }))).toBe(false);
      expect((await repos().devices.get(device.id))?.name).toBe(device.name);
    });

    it("keeps the raw machine info in an item of its own, out of the device", async () => {
      const device = aDevice(ws());
      await commits(repos(), repos().devices.create(device, { big: "x".repeat(50_000) }));
      const before = JSON.stringify(await ctx.db().get({ pk: `DEVICE#${device.id}`, sk: "DEVICE" }));
      expect(before.length).toBeLessThan(5_000);
      await repos().devices.saveMachineInfo(device.id, { small: 1 });
      expect((await ctx.db().get({ pk: `DEVICE#${device.id}`, sk: "MACHINEINFO" }))?.machineInfo).toEqual({
        small: 1,
      });
      await repos().devices.saveMachineInfo(device.id, undefined);
      expect(await ctx.db().get({ pk: `DEVICE#${device.id}`, sk: "MACHINEINFO" })).toBeUndefined();
    });

    it("lists a workspace's devices with an in-memory filter that keeps pages full", async () => {
      const mine = ws();
      const made = [];
      for (const gpu of ["a100", "h100", "a100", "h100", "a100"]) {
        const d = aDevice(mine, { labels: { gpu } });
        made.push(d);
        await commits(repos(), repos().devices.create(d));
      }
      await commits(repos(), repos().devices.create(aDevice(ws())));
      const keep = (d: { labels: Record<string, string> }) => d.labels.gpu === "a100";
      const first = await repos().devices.list(mine, { limit: 2 }, keep);
      expect(first.items).toHaveLength(2);
      const second = await repos().devices.list(mine, { limit: 2, cursor: first.cursor }, keep);
      expect([...first.items, ...second.items].map((d) => d.id)).toEqual(
        made.filter((d) => d.labels.gpu === "a100").map((d) => d.id),
      );
      expect(second.cursor).toBeUndefined();
      // Presence is read with the page: a filter on it sees the current value.
      await repos().devices.seen(made[1]!.id, later, 0);
      const seen = await repos().devices.list(mine, { limit: 10 }, (d) => d.lastSeenAt === later);
      expect(seen.items.map((d) => d.id)).toEqual([made[1]!.id]);
      expect((await repos().devices.listAll(mine)).map((d) => [d.id, d.lastSeenAt])).toEqual(
        made.map((d, i) => [d.id, i === 1 ? later : d.lastSeenAt]),
      );
    });

    it("updates name and labels only within its workspace", async () => {
      const mine = ws();
      const device = aDevice(mine);
      await commits(repos(), repos().devices.create(device));
      const updated = await repos().devices.update(mine, device.id, { name: "n2", labels: {} }, later);
      expect(updated).toMatchObject({ name: "n2", labels: {}, updatedAt: later });
      expect(await codeOf(repos().devices.update(ws(), device.id, { name: "x" }, later))).toBe("NotFound");
    });

    it("refreshes login fields and refuses to recreate a deleted device", async () => {
      const mine = ws();
      const device = aDevice(mine);
      await commits(repos(), repos().devices.create(device));
      const refreshed = await repos().devices.refresh(device.id, { sessionGeneration: 2 }, later);
      expect(refreshed).toMatchObject({ sessionGeneration: 2, updatedAt: later, labels: device.labels });
      await commits(repos(), repos().devices.delete(device));
      expect(await codeOf(repos().devices.refresh(device.id, { sessionGeneration: 3 }, later))).toBe(
        "NotFound",
      );
      expect(await repos().devices.get(device.id)).toBeUndefined();
    });

    it("records presence at most once per window, never for a deleted device", async () => {
      const device = aDevice(ws(), { lastSeenAt: "2026-11-01T00:00:00.000Z" });
      await commits(repos(), repos().devices.create(device));
      await repos().devices.seen(device.id, "2026-11-01T00:00:10.000Z", 15_000);
      expect((await repos().devices.get(device.id))?.lastSeenAt).toBe("2026-11-01T00:00:00.000Z");
      await repos().devices.seen(device.id, "2026-11-01T00:00:20.000Z", 15_000);
      expect((await repos().devices.get(device.id))?.lastSeenAt).toBe("2026-11-01T00:00:20.000Z");
      await commits(repos(), repos().devices.delete(device));
      await repos().devices.seen(device.id, later, 0);
      expect(await ctx.db().get({ pk: `DEVICE#${device.id}`, sk: "SEEN" })).toBeUndefined();
      const ghost = newId();
      await repos().devices.seen(ghost, later, 15_000);
      expect(await repos().devices.get(ghost)).toBeUndefined();
    });

    it("holds a write only while the device is as silent as read (lastSeen)", async () => {
      const device = aDevice(ws(), { lastSeenAt: "2026-11-01T00:00:00.000Z" });
      await commits(repos(), repos().devices.create(device));
      const read = (await repos().devices.get(device.id))!.lastSeenAt;
      expect(await commits(repos(), repos().devices.lastSeen(device.id, read))).toBe(true);
      await repos().devices.seen(device.id, "2026-11-01T00:05:00.000Z", 0);
      expect(await commits(repos(), repos().devices.lastSeen(device.id, read))).toBe(false);
      expect(await commits(repos(), repos().devices.lastSeen(device.id, "2026-11-01T00:05:00.000Z"))).toBe(
        true,
      );
    });

    it("creates the presence of a device stored without one, and only while the device exists", async () => {
      const device = aDevice(ws(), { lastSeenAt: "2026-11-01T00:00:00.000Z" });
      await commits(repos(), repos().devices.create(device));
      await ctx.db().delete({ pk: `DEVICE#${device.id}`, sk: "SEEN" });
      await repos().devices.seen(device.id, later, 15_000);
      expect((await repos().devices.get(device.id))?.lastSeenAt).toBe(later);
      const ghost = newId();
      await repos().devices.seen(ghost, later, 15_000);
      expect(await ctx.db().get({ pk: `DEVICE#${ghost}`, sk: "SEEN" })).toBeUndefined();
    });

    it("deletes once, with its presence and machine info, and only within its workspace", async () => {
      const mine = ws();
      const device = aDevice(mine);
      await commits(repos(), repos().devices.create(device, { a: 1 }));
      expect(await commits(repos(), repos().devices.delete({ ...device, workspaceId: ws() }))).toBe(false);
      const results = await Promise.all([
        commits(repos(), repos().devices.delete(device)),
        commits(repos(), repos().devices.delete(device)),
      ]);
      expect(results.sort()).toEqual([false, true]);
      for (const sk of ["DEVICE", "SEEN", "MACHINEINFO"])
        expect(await ctx.db().get({ pk: `DEVICE#${device.id}`, sk })).toBeUndefined();
    });

    it("claims GPUs all or nothing, and gives back only what a job holds", async () => {
      const device = aDevice(ws(), { resources: { gpus: 4 } });
      await commits(repos(), repos().devices.create(device));
      const gpus = (...indices: number[]) => ({
        gpus: indices,
        cpus: 0,
        memoryGiB: 0,
        capacity: { cpus: 0, memoryGiB: 0 },
      });
      const claim = (job: string, ...indices: number[]) =>
        commits(repos(), repos().devices.claim(device.id, job, gpus(...indices)));
      const claims = await Promise.all(["j1", "j2", "j3"].map((job) => claim(job, 0, 1)));
      expect(claims.filter(Boolean)).toHaveLength(1);
      const holder = Object.values((await repos().devices.get(device.id))!.gpuOwners)[0]!;
      expect(await claim("j4", 1, 2)).toBe(false);
      expect(await claim("j4", 2, 3)).toBe(true);
      expect(await commits(repos(), repos().devices.release(device.id, "j4", [0, 1]))).toBe(false);
      expect(await commits(repos(), repos().devices.release(device.id, holder, [0, 1]))).toBe(true);
      expect((await repos().devices.get(device.id))?.gpuOwners).toEqual({ "2": "j4", "3": "j4" });
      expect(await commits(repos(), repos().devices.claim(newId(), "j5", gpus(0)))).toBe(false);
    });

    it("moves an application's GPUs: claims only free ones, gives back only its own, racing a job's claim", async () => {
      const device = aDevice(ws(), { resources: { gpus: 4 } });
      await commits(repos(), repos().devices.create(device));
      const job = (indices: number[]) =>
        repos().devices.claim(device.id, "j1", {
          gpus: indices,
          cpus: 0,
          memoryGiB: 0,
          capacity: { cpus: 0, memoryGiB: 0 },
        });
      const [app, byJob] = await Promise.all([
        commits(repos(), repos().devices.appGpus(device.id, "a1", [0, 1], [])),
        commits(repos(), job([1, 2])),
      ]);
      expect([app, byJob].filter(Boolean)).toHaveLength(1);
      const owners = async () => (await repos().devices.get(device.id))!.gpuOwners;
      if (app) {
        expect(await owners()).toEqual({ "0": "app:a1", "1": "app:a1" });
        // Moving from 1 to 3 (keeping 0), and refusing to give back what another holds.
        expect(await commits(repos(), repos().devices.appGpus(device.id, "a1", [3], [1]))).toBe(true);
        expect(await owners()).toEqual({ "0": "app:a1", "3": "app:a1" });
        expect(await commits(repos(), repos().devices.appGpus(device.id, "a2", [], [0]))).toBe(false);
        expect(await commits(repos(), repos().devices.appGpus(device.id, "a1", [], [0, 3]))).toBe(true);
        expect(await owners()).toEqual({});
      } else {
        expect(await commits(repos(), repos().devices.appGpus(device.id, "a1", [0, 1], []))).toBe(false);
        expect(await commits(repos(), repos().devices.appGpus(device.id, "a1", [0, 3], []))).toBe(true);
      }
      expect(await commits(repos(), repos().devices.appGpus(newId(), "a1", [0], []))).toBe(false);
    });

    it("claims CPUs and memory under the device's capacity, racing claims never passing it, and gives them back", async () => {
      const device = aDevice(ws(), { resources: { gpus: 0, cpu: 8 } });
      await commits(repos(), repos().devices.create(device));
      const capacity = { cpus: 8, memoryGiB: 64 };
      const claim = (job: string, cpus: number, memoryGiB = 0) =>
        commits(repos(), repos().devices.claim(device.id, job, { gpus: [], cpus, memoryGiB, capacity }));
      // Five jobs of 3 CPUs racing for 8: exactly two fit.
      const raced = await Promise.all(["a", "b", "c", "d", "e"].map((job) => claim(job, 3)));
      expect(raced.filter(Boolean)).toHaveLength(2);
      expect(await repos().devices.get(device.id)).toMatchObject({ heldCpus: 6, heldJobs: 2 });
      expect(await claim("f", 3)).toBe(false);
      expect(await claim("g", 2, 64)).toBe(true);
      expect(await claim("h", 0, 1)).toBe(false);
      expect(
        await commits(repos(), repos().devices.release(device.id, "g", [], { cpus: 2, memoryGiB: 64 })),
      ).toBe(true);
      expect(await repos().devices.get(device.id)).toMatchObject({
        heldCpus: 6,
        heldMemoryGiB: 0,
        heldJobs: 2,
      });
    });
  });
}
