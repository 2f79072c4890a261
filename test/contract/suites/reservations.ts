import { describe, expect, it } from "vitest";
import { EXPIRY_SHARDS } from "../../../shared/adapters/dynamo/reservation-repository.ts";
import { newId } from "../../../shared/domain/ids.ts";
import type { Reservation } from "../../../shared/domain/reservation.ts";
import { type ContractContext, codeOf, ws } from "./context.ts";

export const aReservation = (extra: Partial<Reservation> = {}): Reservation => ({
  id: newId(),
  nodeId: newId(),
  workspaceId: ws(),
  user: "admin",
  type: "debug",
  data: "{}",
  created: "2026-11-01T00:00:00.000Z",
  duration: 60,
  signature: "sig",
  state: "pending",
  version: 1,
  seq: 1,
  expiresAt: "2026-11-01T00:01:00.000Z",
  updatedAt: "2026-11-01T00:00:00.000Z",
  ...extra,
});

const result = (data: string) => ({
  state: "ok" as const,
  error: "",
  data,
  created: "x",
  signature: "s",
  receivedAt: "2026-11-01T00:00:30.000Z",
});

export function reservationContract(ctx: ContractContext) {
  const { repos } = ctx;
  const at = "2026-11-01T00:00:10.000Z";

  describe("ReservationRepository", () => {
    it("stores a reservation, finds it by device and id, by id alone, and never overwrites it", async () => {
      const r = aReservation();
      await repos().reservations.create(r);
      expect(await repos().reservations.get(r.nodeId, r.id)).toEqual(r);
      expect(await repos().reservations.getById(r.id)).toEqual(r);
      expect(await repos().reservations.get(newId(), r.id)).toBeUndefined();
      expect(await codeOf(repos().reservations.create({ ...r, data: '{"x":1}' }))).toBe("Conflict");
      expect((await repos().reservations.get(r.nodeId, r.id))?.data).toBe("{}");
    });

    it("reads several of a device at once, and lists what a device should still have", async () => {
      const nodeId = newId();
      const a = aReservation({ nodeId, seq: 2 });
      const b = aReservation({ nodeId, seq: 1 });
      const gone = aReservation({ nodeId, seq: 3, state: "deleted" });
      for (const r of [a, b, gone]) await repos().reservations.create(r);
      expect((await repos().reservations.getMany(nodeId, [a.id, b.id, newId()])).map((r) => r.id)).toEqual([
        b.id,
        a.id,
      ]);
      expect((await repos().reservations.listForDevice(nodeId)).map((r) => r.id)).toEqual([b.id, a.id]);
    });

    it("lists a workspace's reservations with a filter", async () => {
      const workspaceId = ws();
      const a = aReservation({ workspaceId });
      const b = aReservation({ workspaceId, state: "ok" });
      await repos().reservations.create(a);
      await repos().reservations.create(b);
      const ok = await repos().reservations.list(workspaceId, { limit: 10 }, (r) => r.state === "ok");
      expect(ok.items.map((r) => r.id)).toEqual([b.id]);
    });

    it("moves a state only from the version it saw: of two racing transitions exactly one wins", async () => {
      const r = aReservation();
      await repos().reservations.create(r);
      const [x, y] = await Promise.all([
        repos().reservations.transition(r, "delivered", {}, at),
        repos().reservations.transition(r, "toDelete", { removeSeq: 7 }, at),
      ]);
      expect([x, y].filter(Boolean)).toHaveLength(1);
      const stored = await repos().reservations.get(r.nodeId, r.id);
      expect(stored?.version).toBe(2);
      expect(await repos().reservations.transition(r, "ok", {}, at)).toBeUndefined();
    });

    it("stores the first of two racing results only", async () => {
      const r = aReservation();
      await repos().reservations.create(r);
      const [x, y] = await Promise.all([
        repos().reservations.recordResult(r, result('{"a":1}'), at),
        repos().reservations.recordResult(r, result('{"b":2}'), at),
      ]);
      expect([x, y].filter(Boolean)).toHaveLength(1);
      const stored = await repos().reservations.get(r.nodeId, r.id);
      expect(stored?.state).toBe("ok");
      expect(stored?.result?.data).toBe((x ?? y)!.result!.data);
    });

    it("keeps the state of a reservation being removed when its result arrives", async () => {
      const r = aReservation({ state: "toDelete" });
      await repos().reservations.create(r);
      const stored = await repos().reservations.recordResult(r, result("{}"), at);
      expect(stored).toMatchObject({ state: "toDelete", result: { state: "ok" } });
    });

    it("finds live reservations due to expire, and forgets them once they are removed", async () => {
      const due = aReservation({ expiresAt: "2020-01-01T00:00:00.000Z" });
      const later = aReservation({ expiresAt: "2999-01-01T00:00:00.000Z" });
      await repos().reservations.create(due);
      await repos().reservations.create(later);
      const find = async () => {
        const ids: string[] = [];
        for (let shard = 0; shard < EXPIRY_SHARDS; shard++) {
          ids.push(
            ...(await repos().reservations.expiring(shard, "2026-11-01T00:00:00.000Z", 1000)).map(
              (r) => r.id,
            ),
          );
        }
        return ids;
      };
      expect(await find()).toContain(due.id);
      expect(await find()).not.toContain(later.id);
      await repos().reservations.transition(due, "expired", {}, at);
      expect(await find()).not.toContain(due.id);
    });
  });
}
