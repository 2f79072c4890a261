import { describe, expect, it } from "vitest";
import { CLOUD_SHARDS } from "../../../shared/adapters/dynamo/cloud-reservation-repository.ts";
import type { CloudReservation } from "../../../shared/domain/cloud-reservation.ts";
import { newId } from "../../../shared/domain/ids.ts";
import { type ContractContext, codeOf, ws } from "./context.ts";

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

  describe("CloudReservationRepository", () => {
    it("stores a reservation, reads it back, and never overwrites one", async () => {
      const r = aCloudReservation();
      await repos().cloudReservations.create(r);
      expect(await repos().cloudReservations.get(r.id)).toEqual(r);
      expect(await codeOf(repos().cloudReservations.create({ ...r, state: "failed" }))).toBe("Conflict");
      expect((await repos().cloudReservations.get(r.id))?.state).toBe("queued");
      expect(await repos().cloudReservations.get(newId())).toBeUndefined();
    });

    it("updates only from the version it read: of two writers of one version, one wins", async () => {
      const r = aCloudReservation();
      await repos().cloudReservations.create(r);
      const at = "2026-11-01T00:00:10.000Z";
      const [a, b] = await Promise.all([
        repos().cloudReservations.update(r, { state: "launching" }, at),
        repos().cloudReservations.update(r, { state: "canceled", reason: "x" }, at),
      ]);
      expect([a, b].filter(Boolean)).toHaveLength(1);
      const now = (await repos().cloudReservations.get(r.id))!;
      expect(now.version).toBe(2);
      expect(now.updatedAt).toBe(at);
      expect(await repos().cloudReservations.update(r, { state: "failed" }, at)).toBeUndefined();
    });

    it("finds reservations quiet in a state since a time, oldest first, and forgets final ones", async () => {
      const shardOf = async (r: CloudReservation) => {
        for (let s = 0; s < CLOUD_SHARDS; s++) {
          const found = await repos().cloudReservations.quiet(s, r.state, "2026-11-02T00:00:00.000Z", 500);
          if (found.some((x) => x.id === r.id)) return s;
        }
        return -1;
      };
      const old = aCloudReservation({ state: "launched", updatedAt: "2026-11-01T00:00:00.000Z" });
      await repos().cloudReservations.create(old);
      const shard = await shardOf(old);
      expect(shard).toBeGreaterThanOrEqual(0);
      const ids = async (before: string) =>
        (await repos().cloudReservations.quiet(shard, "launched", before, 500)).map((r) => r.id);
      expect(await ids("2026-11-01T00:00:01.000Z")).toContain(old.id);
      expect(await ids("2026-11-01T00:00:00.000Z")).not.toContain(old.id); // strictly before
      expect(
        await repos().cloudReservations.quiet(shard, "running", "2026-11-02T00:00:00.000Z", 500),
      ).not.toContainEqual(expect.objectContaining({ id: old.id }));
      // Touched: quiet again only later. Final: gone from the index.
      const touched = (await repos().cloudReservations.update(old, {}, "2026-11-01T00:05:00.000Z"))!;
      expect(await ids("2026-11-01T00:01:00.000Z")).not.toContain(old.id);
      expect(await ids("2026-11-01T00:06:00.000Z")).toContain(old.id);
      await repos().cloudReservations.update(touched, { state: "stopped" }, "2026-11-01T00:07:00.000Z");
      expect(await shardOf({ ...old, state: "stopped" })).toBe(-1);
      expect(await ids("2026-11-02T00:00:00.000Z")).not.toContain(old.id);
    });
  });
}
