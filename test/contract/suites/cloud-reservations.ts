import { describe, expect, it } from "vitest";
import { type CloudReservation, moveCloud } from "../../../shared/domain/cloud-reservation.ts";
import { newId } from "../../../shared/domain/ids.ts";
import { type ContractContext, commits, ws } from "./context.ts";

export const aCloudReservation = (extra: Partial<CloudReservation> = {}): CloudReservation => ({
  id: newId(),
  workspaceId: ws(),
  jobId: newId(),
  launcher: "ecs",
  attempt: 1,
  state: "queued",
  version: 1,
  createdAt: "2026-11-01T00:00:00.000Z",
  updatedAt: "2026-11-01T00:00:00.000Z",
  capacityRetries: 0,
  requeues: 0,
  ...extra,
});

export function cloudReservationContract(ctx: ContractContext) {
  const { repos } = ctx;
  const create = (r: CloudReservation) => commits(repos(), repos().cloudReservations.create(r));

  describe("CloudReservationRepository", () => {
    it("stores a reservation, reads it back, and never overwrites one", async () => {
      const r = aCloudReservation();
      expect(await create(r)).toBe(true);
      expect(await repos().cloudReservations.get(r.id)).toEqual(r);
      expect(await create({ ...r, state: "failed" })).toBe(false);
      expect((await repos().cloudReservations.get(r.id))?.state).toBe("queued");
      expect(await repos().cloudReservations.get(newId())).toBeUndefined();
    });

    it("updates only from the version it read: of two writers of one version, one wins", async () => {
      const r = aCloudReservation();
      await create(r);
      const at = "2026-11-01T00:00:10.000Z";
      const [a, b] = await Promise.all([
        repos().cloudReservations.save(r, moveCloud(r, "launching"), at),
        repos().cloudReservations.save(r, moveCloud(r, "canceled", { reason: "x" }), at),
      ]);
      expect([a, b].filter((o) => o.ok)).toHaveLength(1);
      const now = (await repos().cloudReservations.get(r.id))!;
      expect(now.version).toBe(2);
      expect(now.updatedAt).toBe(at);
      expect((await repos().cloudReservations.save(r, moveCloud(r, "failed"), at)).ok).toBe(false);
    });

    it("moves failed to stopping (a launch that lands after a failure), and nothing else out of final", async () => {
      const r = aCloudReservation({ state: "failed" });
      await create(r);
      const stopping = await repos().cloudReservations.save(
        r,
        moveCloud(r, "stopping", { task: { launcher: "ecs", id: "arn:task/1" } }),
        "2026-11-01T00:00:10.000Z",
      );
      expect(stopping.ok && stopping.value.state).toBe("stopping");
      expect(() => moveCloud({ state: "stopped" }, "running")).toThrow(/not an allowed move/);
    });

    it("finds reservations quiet in a state since a time, oldest first, and forgets final ones", async () => {
      const old = aCloudReservation({ state: "launched", updatedAt: "2026-11-01T00:00:00.000Z" });
      await create(old);
      const ids = async (before: string, state: CloudReservation["state"] = "launched") =>
        (await repos().cloudReservations.quiet(state, before, 500)).map((r) => r.id);
      expect(await ids("2026-11-01T00:00:01.000Z")).toContain(old.id);
      expect(await ids("2026-11-01T00:00:00.000Z")).not.toContain(old.id); // strictly before
      expect(await ids("2026-11-02T00:00:00.000Z", "running")).not.toContain(old.id);
      // Touched: quiet again only later. Final: gone from the index.
      const touched = await repos().cloudReservations.save(old, {}, "2026-11-01T00:05:00.000Z");
      expect(await ids("2026-11-01T00:01:00.000Z")).not.toContain(old.id);
      expect(await ids("2026-11-01T00:06:00.000Z")).toContain(old.id);
      const current = touched.ok ? touched.value : old;
      await repos().cloudReservations.save(
        current,
        moveCloud(current, "stopped"),
        "2026-11-01T00:07:00.000Z",
      );
      expect(await ids("2026-11-02T00:00:00.000Z")).not.toContain(old.id);
      expect(await ids("2026-11-02T00:00:00.000Z", "stopped")).not.toContain(old.id);
    });
  });
}
