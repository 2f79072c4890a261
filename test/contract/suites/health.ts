import { describe, expect, it } from "vitest";
import { type HealthReport, summarize } from "../../../shared/domain/gpu-health.ts";
import { type ContractContext, commits, ws } from "./context.ts";
import { aDevice } from "./fixtures.ts";

const report = (collectedAt: string, health: "Healthy" | "Unhealthy"): HealthReport => ({
  source: "berth",
  bootId: "b1",
  collectedAt,
  states: [
    { component: "accelerator-nvidia-error-xid", states: [{ name: "error_xid", health, reason: "" }] },
  ],
  events: [],
  gpus: [
    {
      index: 0,
      uuid: "GPU-0",
      health,
      components: health === "Healthy" ? [] : ["accelerator-nvidia-error-xid"],
    },
  ],
});

export function healthContract(ctx: ContractContext) {
  describe("HealthRepository", () => {
    it("stores a report and the device's summary only when newer, and never for a missing device", async () => {
      const repos = ctx.repos();
      const device = aDevice(ws());
      expect(await commits(repos, repos.devices.create(device))).toBe(true);
      const put = (at: string, h: "Healthy" | "Unhealthy") =>
        repos.health.put(
          { deviceId: device.id, report: report(at, h), receivedAt: at },
          summarize(report(at, h), at),
        );
      expect(await put("2026-12-02T10:00:01.000Z", "Unhealthy")).toBe(true);
      // Out of order: an older report changes nothing, the same time neither.
      expect(await put("2026-12-02T10:00:00.000Z", "Healthy")).toBe(false);
      expect(await put("2026-12-02T10:00:01.000Z", "Healthy")).toBe(false);
      expect((await repos.health.get(device.id))?.report.states[0]?.states[0]?.health).toBe("Unhealthy");
      expect((await repos.devices.get(device.id))?.health).toMatchObject({
        state: "Unhealthy",
        unhealthyGpus: [0],
      });
      expect(await put("2026-12-02T10:00:02.000Z", "Healthy")).toBe(true);
      expect((await repos.devices.get(device.id))?.health?.state).toBe("Healthy");
      // A report racing the device's delete brings nothing back.
      expect(await commits(repos, repos.devices.delete(device))).toBe(true);
      expect(await repos.health.get(device.id)).toBeUndefined();
      expect(await put("2026-12-02T10:00:03.000Z", "Healthy")).toBe(false);
      expect(await repos.devices.get(device.id)).toBeUndefined();
      expect(await repos.health.get(device.id)).toBeUndefined();
    });

    it("keeps events once by time and id, newest first, filtered and paged", async () => {
      const repos = ctx.repos();
      const id = `dev-${ws()}`;
      const event = (n: number, type: "Fatal" | "Warning") => ({
        id: `boot:${n}`,
        component: type === "Fatal" ? "accelerator-nvidia-error-xid" : "accelerator-nvidia-error-sxid",
        time: `2026-12-02T10:00:0${n}.000Z`,
        name: "error",
        type,
        message: `event ${n}`,
      });
      await repos.health.addEvents(id, [event(1, "Warning"), event(2, "Fatal"), event(3, "Fatal")]);
      await repos.health.addEvents(id, [event(3, "Fatal")]);
      const all = await repos.health.events(id, {}, { limit: 10 });
      expect(all.items.map((e) => e.id)).toEqual(["boot:3", "boot:2", "boot:1"]);
      const first = await repos.health.events(id, { type: "Fatal" }, { limit: 1 });
      expect(first.items.map((e) => e.id)).toEqual(["boot:3"]);
      const next = await repos.health.events(id, { type: "Fatal" }, { limit: 1, cursor: first.cursor });
      expect(next.items.map((e) => e.id)).toEqual(["boot:2"]);
      const since = await repos.health.events(id, { since: "2026-12-02T10:00:02.000Z" }, { limit: 10 });
      expect(since.items.map((e) => e.id)).toEqual(["boot:3", "boot:2"]);
      const sxid = await repos.health.events(
        id,
        { component: "accelerator-nvidia-error-sxid" },
        { limit: 10 },
      );
      expect(sxid.items.map((e) => e.id)).toEqual(["boot:1"]);
    });

    it("stores a workspace's health settings", async () => {
      const health = ctx.repos().health;
      const w = ws();
      expect(await health.settings(w)).toBeUndefined();
      await health.putSettings(w, { placement: "ignore" });
      expect(await health.settings(w)).toEqual({ placement: "ignore" });
      expect(await health.settings(ws())).toBeUndefined();
    });

    it("gives a usage lease to one of many followers at once, and keeps only a newer sample", async () => {
      const usage = ctx.repos().usage;
      const id = `res-${ws()}`;
      const now = Date.now();
      const at = (ms: number) => new Date(now + ms).toISOString();
      // Five followers racing for the lease: one takes it (and would send the agent its control).
      const taken = await Promise.all(
        Array.from({ length: 5 }, () => usage.takeLease(id, at(60_000), at(20_000))),
      );
      expect(taken.filter(Boolean)).toHaveLength(1);
      // Renewed only once it ends within 20 s.
      expect(await usage.takeLease(id, at(70_000), at(20_000))).toBe(false);
      expect(await usage.takeLease(id, at(90_000), at(61_000))).toBe(true);
      // Two batches racing: the newer sample stays, whichever lands last.
      await Promise.all([
        usage.putSample(id, { cpuPercent: 2, sampledAt: at(2000) }),
        usage.putSample(id, { cpuPercent: 1, sampledAt: at(1000) }),
      ]);
      expect((await usage.get(id))?.sample?.cpuPercent).toBe(2);
      expect(await usage.putSample(id, { cpuPercent: 0, sampledAt: at(1500) })).toBe(false);
      expect((await usage.get(id))?.leaseUntil).toBe(at(90_000));
    });
  });
}
