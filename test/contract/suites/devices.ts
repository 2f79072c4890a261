import { describe, expect, it } from "vitest";
import { newId } from "../../../shared/domain/ids.ts";
import { type ContractContext, codeOf, ws } from "./context.ts";
import { aDevice } from "./fixtures.ts";

export function deviceContract(ctx: ContractContext) {
  const { repos } = ctx;
  const later = "2026-11-02T00:00:00.000Z";

  describe("DeviceRepository", () => {
    it("stores a device, reads it back and never overwrites one", async () => {
      const device = aDevice(ws());
      await repos().devices.create(device);
      expect(await repos().devices.get(device.id)).toEqual(device);
      expect(await codeOf(repos().devices.create({ ...device, name: "other" }))).toBe("Conflict");
    });

    it("lists a workspace's devices with an in-memory filter that keeps pages full", async () => {
      const mine = ws();
      const made = [];
      for (const gpu of ["a100", "h100", "a100", "h100", "a100"]) {
        const d = aDevice(mine, { labels: { gpu } });
        made.push(d);
        await repos().devices.create(d);
      }
      await repos().devices.create(aDevice(ws()));
      const keep = (d: { labels: Record<string, string> }) => d.labels.gpu === "a100";
      const first = await repos().devices.list(mine, { limit: 2 }, keep);
      expect(first.items).toHaveLength(2);
      const second = await repos().devices.list(mine, { limit: 2, cursor: first.cursor }, keep);
      expect([...first.items, ...second.items].map((d) => d.id)).toEqual(
        made.filter((d) => d.labels.gpu === "a100").map((d) => d.id),
      );
      expect(second.cursor).toBeUndefined();
    });

    it("updates name and labels only within its workspace", async () => {
      const mine = ws();
      const device = aDevice(mine);
      await repos().devices.create(device);
      const updated = await repos().devices.update(mine, device.id, { name: "n2", labels: {} }, later);
      expect(updated).toMatchObject({ name: "n2", labels: {}, updatedAt: later });
      expect(await codeOf(repos().devices.update(ws(), device.id, { name: "x" }, later))).toBe("NotFound");
    });

    it("refreshes login fields and refuses to recreate a deleted device", async () => {
      const mine = ws();
      const device = aDevice(mine);
      await repos().devices.create(device);
      const refreshed = await repos().devices.refresh(
        device.id,
        { sessionGeneration: 2, lastSeenAt: later },
        later,
      );
      expect(refreshed).toMatchObject({ sessionGeneration: 2, lastSeenAt: later, labels: device.labels });
      await repos().devices.delete(mine, device.id);
      expect(await codeOf(repos().devices.refresh(device.id, { lastSeenAt: later }, later))).toBe("NotFound");
      expect(await repos().devices.get(device.id)).toBeUndefined();
    });

    it("records lastSeenAt at most once per window", async () => {
      const device = aDevice(ws(), { lastSeenAt: "2026-11-01T00:00:00.000Z" });
      await repos().devices.create(device);
      await repos().devices.touch(device.id, "2026-11-01T00:00:10.000Z", 15_000);
      expect((await repos().devices.get(device.id))?.lastSeenAt).toBe("2026-11-01T00:00:00.000Z");
      await repos().devices.touch(device.id, "2026-11-01T00:00:20.000Z", 15_000);
      expect((await repos().devices.get(device.id))?.lastSeenAt).toBe("2026-11-01T00:00:20.000Z");
      const ghost = newId();
      await repos().devices.touch(ghost, later, 15_000);
      expect(await repos().devices.get(ghost)).toBeUndefined();
    });

    it("deletes once, returning what was deleted, and only within its workspace", async () => {
      const mine = ws();
      const device = aDevice(mine);
      await repos().devices.create(device);
      expect(await codeOf(repos().devices.delete(ws(), device.id))).toBe("NotFound");
      const results = await Promise.all([
        codeOf(repos().devices.delete(mine, device.id)),
        codeOf(repos().devices.delete(mine, device.id)),
      ]);
      expect(results.sort()).toEqual(["NotFound", "resolved"]);
    });
  });
}
