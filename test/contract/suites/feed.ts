import { describe, expect, it } from "vitest";
import { repositories } from "../../../shared/adapters/repositories/index.ts";
import type { FeedEntry } from "../../../shared/domain/feed.ts";
import { newId } from "../../../shared/domain/ids.ts";
import type { Store } from "../../../shared/ports/store.ts";
import { type ContractContext, commits } from "./context.ts";

const entry = (
  deviceId: string,
  seq: number,
  createdAt: string,
  kind: FeedEntry["kind"] = "apply",
): FeedEntry => ({
  deviceId,
  seq,
  kind,
  reservation: {
    id: newId(),
    nodeId: deviceId,
    workspaceId: "w",
    user: "u",
    type: "debug",
    data: "{}",
    created: createdAt,
    duration: 60,
    signature: "s",
    toDelete: kind === "remove",
    seq,
  },
  createdAt,
  expiresAt: "2026-11-02T00:00:00.000Z",
});

export function feedContract(ctx: ContractContext) {
  const { repos } = ctx;
  /** Appends entries 1..n in order, as writers do (each after reading the head). */
  const fill = async (deviceId: string, n: number, at = "2026-11-01T00:00:00.000Z") => {
    const written: FeedEntry[] = [];
    for (let seq = 1; seq <= n; seq++) {
      const e = entry(deviceId, seq, at);
      expect(await commits(repos(), repos().feed.append({ seq: seq - 1 }, e))).toBe(true);
      written.push(e);
    }
    return written;
  };

  describe("FeedRepository", () => {
    it("gives each number once: of 20 writers appending after the same head, one wins", async () => {
      const deviceId = newId();
      const results = await Promise.all(
        Array.from({ length: 20 }, () =>
          commits(repos(), repos().feed.append({ seq: 0 }, entry(deviceId, 1, "2026-11-01T00:00:00.000Z"))),
        ),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      expect((await repos().feed.head(deviceId)).seq).toBe(1);
      expect(() => repos().feed.append({ seq: 1 }, entry(deviceId, 3, "x"))).toThrow();
    });

    it("keeps the unacknowledged removals with the head, and forgets acknowledged ones", async () => {
      const deviceId = newId();
      expect(await repos().feed.head(deviceId)).toEqual({ seq: 0, removals: [] });
      const r1 = entry(deviceId, 1, "2026-11-01T00:00:00.000Z", "remove");
      const r2 = entry(deviceId, 2, "2026-11-01T00:00:00.000Z", "remove");
      await commits(repos(), repos().feed.append({ seq: 0 }, r1));
      await commits(repos(), repos().feed.append({ seq: 1 }, r2));
      const head = await repos().feed.head(deviceId);
      expect(head.seq).toBe(2);
      expect(head.removals.map((r) => r.id).sort()).toEqual([r1.reservation.id, r2.reservation.id].sort());
      await commits(repos(), repos().feed.acknowledge(deviceId, r1.reservation.id));
      await commits(repos(), repos().feed.acknowledge(deviceId, r1.reservation.id));
      expect(await repos().feed.head(deviceId)).toEqual({
        seq: 2,
        removals: [{ id: r2.reservation.id, seq: 2 }],
      });
    });

    it("reads entries from a cursor in order together with the head, and the newest ones", async () => {
      const deviceId = newId();
      await fill(deviceId, 5);
      const read = await repos().feed.read(deviceId, 2, 10);
      expect(read.entries.map((e) => e.seq)).toEqual([2, 3, 4, 5]);
      expect(read.head.seq).toBe(5);
      expect((await repos().feed.read(deviceId, 2, 2)).entries.map((e) => e.seq)).toEqual([2, 3]);
      expect((await repos().feed.read(deviceId, 6, 10)).entries).toEqual([]);
      expect((await repos().feed.latest(deviceId, 2)).map((e) => e.seq)).toEqual([4, 5]);
      expect(await repos().feed.read(newId(), 1, 10)).toEqual({
        entries: [],
        head: { seq: 0, removals: [] },
      });
    });

    it("reads the head and every removal even past a long backlog", async () => {
      const deviceId = newId();
      await fill(deviceId, 120);
      const removal = entry(deviceId, 121, "2026-11-01T00:00:00.000Z", "remove");
      await commits(repos(), repos().feed.append({ seq: 120 }, removal));
      const read = await repos().feed.read(deviceId, 1, 100);
      expect(read.entries).toHaveLength(100);
      expect(read.head).toEqual({ seq: 121, removals: [{ id: removal.reservation.id, seq: 121 }] });
    });

    it("finds a write at once even while the indexes lag (change records are read from the table)", async () => {
      // DynamoDB's indexes reach a write "within a second": an index that has not caught up shows nothing yet.
      const db = ctx.db();
      const lagging = new Proxy(db, {
        get: (target, prop) =>
          prop === "query"
            ? (input: Parameters<Store["query"]>[0]) =>
                input.index ? Promise.resolve({ items: [] }) : target.query(input)
            : Reflect.get(target, prop),
      });
      const device = newId();
      await commits(repos(), repos().feed.append({ seq: 0 }, entry(device, 1, "2026-11-04T00:00:01.000Z")));
      const found = await repositories(lagging).feed.changesSince("2026-11-04T00:00:00.000Z");
      expect(found).toContainEqual({ deviceId: device, seq: 1, createdAt: "2026-11-04T00:00:01.000Z" });
    });

    it("finds recent writes across devices through the change records", async () => {
      const a = newId();
      const b = newId();
      await commits(repos(), repos().feed.append({ seq: 0 }, entry(a, 1, "2026-11-03T00:00:01.000Z")));
      await commits(repos(), repos().feed.append({ seq: 0 }, entry(b, 1, "2026-11-03T00:00:02.000Z")));
      await commits(repos(), repos().feed.append({ seq: 1 }, entry(a, 2, "2026-11-02T00:00:00.000Z")));
      const found = (await repos().feed.changesSince("2026-11-03T00:00:00.000Z")).map(
        (c) => `${c.deviceId}#${c.seq}`,
      );
      expect(found).toEqual(expect.arrayContaining([`${a}#1`, `${b}#1`]));
      expect(found).not.toContain(`${a}#2`);
    });
  });
}
