import { describe, expect, it } from "vitest";
import { newId } from "../../../shared/domain/ids.ts";
import { moveReservation, type Reservation } from "../../../shared/domain/reservation.ts";
import { type ContractContext, commits, ws } from "./context.ts";

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
  const create = (r: Reservation) => commits(repos(), repos().reservations.create(r));

  describe("ReservationRepository", () => {
    it("stores a reservation, finds it by device and id, by id alone, and never overwrites it", async () => {
      const r = aReservation();
      expect(await create(r)).toBe(true);
      expect(await repos().reservations.get(r.nodeId, r.id)).toEqual(r);
      expect(await repos().reservations.getById(r.id)).toEqual(r);
      expect(await repos().reservations.get(newId(), r.id)).toBeUndefined();
      expect(await create({ ...r, data: '{"x":1}' })).toBe(false);
      expect((await repos().reservations.get(r.nodeId, r.id))?.data).toBe("{}");
    });

    it("reads several of a device at once, and lists what a device should still have", async () => {
      const nodeId = newId();
      const a = aReservation({ nodeId, seq: 2 });
      const b = aReservation({ nodeId, seq: 1 });
      const gone = aReservation({ nodeId, seq: 3, state: "deleted" });
      for (const r of [a, b, gone]) await create(r);
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
      await create(a);
      await create(b);
      const ok = await repos().reservations.list(workspaceId, { limit: 10 }, (r) => r.state === "ok");
      expect(ok.items.map((r) => r.id)).toEqual([b.id]);
    });

    it("moves a state only from the version it saw: of two racing transitions exactly one wins", async () => {
      const r = aReservation();
      await create(r);
      const [x, y] = await Promise.all([
        repos().reservations.save(r, moveReservation(r, "delivered"), at),
        repos().reservations.save(r, moveReservation(r, "toDelete", { removeSeq: 7 }), at),
      ]);
      expect([x, y].filter((o) => o.ok)).toHaveLength(1);
      const stored = await repos().reservations.get(r.nodeId, r.id);
      expect(stored?.version).toBe(2);
      // The loser learns what it is now, without reading again.
      const loser = [x, y].find((o) => !o.ok);
      expect(loser).toEqual({ ok: false, current: stored });
      expect((await repos().reservations.save(r, moveReservation(r, "ok"), at)).ok).toBe(false);
    });

    it("refuses a state written without a transition, and a move the table forbids", async () => {
      const r = aReservation({ state: "deleted" });
      await create(r);
      expect(() => repos().reservations.update(r, { state: "ok" } as never, at)).toThrow(/transition/);
      expect(() => moveReservation(r, "pending")).toThrow(/not an allowed move/);
    });

    it("stores the first of two racing results only", async () => {
      const r = aReservation();
      await create(r);
      const [x, y] = await Promise.all([
        repos().reservations.save(r, moveReservation(r, "ok", { result: result('{"a":1}') }), at),
        repos().reservations.save(r, moveReservation(r, "ok", { result: result('{"b":2}') }), at),
      ]);
      expect([x, y].filter((o) => o.ok)).toHaveLength(1);
      const stored = await repos().reservations.get(r.nodeId, r.id);
      expect(stored?.state).toBe("ok");
      const won = [x, y].find((o) => o.ok) as { value: Reservation };
      expect(stored?.result?.data).toBe(won.value.result!.data);
    });

    it("finds live reservations due to expire, and forgets them once they are removed", async () => {
      const due = aReservation({ expiresAt: "2020-01-01T00:00:00.000Z" });
      const later = aReservation({ expiresAt: "2999-01-01T00:00:00.000Z" });
      await create(due);
      await create(later);
      const find = async () =>
        (await repos().reservations.expiring("2026-11-01T00:00:00.000Z", 1000)).map((r) => r.id);
      expect(await find()).toContain(due.id);
      expect(await find()).not.toContain(later.id);
      expect((await repos().reservations.save(due, moveReservation(due, "expired"), at)).ok).toBe(true);
      expect(await find()).not.toContain(due.id);
    });
  });
}
