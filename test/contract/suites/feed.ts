import { describe, expect, it } from "vitest";
import { newId } from "../../../shared/domain/ids.ts";
import type { FeedEntry } from "../../../shared/ports/repositories.ts";
import type { ContractContext } from "./context.ts";

const entry = (deviceId: string, seq: number, createdAt: string): FeedEntry => ({
  deviceId,
  seq,
  kind: "apply",
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
    toDelete: false,
    seq,
  },
  createdAt,
  expiresAt: "2026-11-02T00:00:00.000Z",
});

export function feedContract(ctx: ContractContext) {
  const { repos } = ctx;

  describe("FeedRepository", () => {
    it("hands out distinct, increasing sequence numbers to 50 concurrent writers", async () => {
      const deviceId = newId();
      const seqs = await Promise.all(Array.from({ length: 50 }, () => repos().feed.allocate(deviceId)));
      expect(new Set(seqs).size).toBe(50);
      expect(Math.min(...seqs)).toBe(1);
      expect(Math.max(...seqs)).toBe(50);
      expect((await repos().feed.head(deviceId)).seq).toBe(50);
    });

    it("keeps the set of unacknowledged removals", async () => {
      const deviceId = newId();
      expect(await repos().feed.head(deviceId)).toEqual({ seq: 0, removals: [] });
      await repos().feed.allocate(deviceId, "r1");
      await repos().feed.allocate(deviceId, "r2");
      await repos().feed.allocate(deviceId, "r1");
      expect((await repos().feed.head(deviceId)).removals.sort()).toEqual(["r1", "r2"]);
      await repos().feed.acknowledge(deviceId, "r1");
      await repos().feed.acknowledge(deviceId, "r1");
      expect(await repos().feed.head(deviceId)).toEqual({ seq: 3, removals: ["r2"] });
    });

    it("reads entries from a cursor in order, and the newest ones", async () => {
      const deviceId = newId();
      for (const seq of [1, 2, 4, 10])
        await repos().feed.append(entry(deviceId, seq, "2026-11-01T00:00:00.000Z"));
      expect((await repos().feed.from(deviceId, 2, 10)).map((e) => e.seq)).toEqual([2, 4, 10]);
      expect((await repos().feed.from(deviceId, 2, 2)).map((e) => e.seq)).toEqual([2, 4]);
      expect((await repos().feed.latest(deviceId, 2)).map((e) => e.seq)).toEqual([4, 10]);
      expect(await repos().feed.from(newId(), 1, 10)).toEqual([]);
    });

    it("finds recent writes across devices through the change index", async () => {
      const a = newId();
      const b = newId();
      await repos().feed.append(entry(a, 1, "2026-11-03T00:00:01.000Z"));
      await repos().feed.append(entry(b, 7, "2026-11-03T00:00:02.000Z"));
      await repos().feed.append(entry(a, 2, "2026-11-02T00:00:00.000Z"));
      const found: string[] = [];
      for (let shard = 0; shard < 4; shard++) {
        for (const c of await repos().feed.changesSince(shard, "2026-11-03T00:00:00.000Z"))
          found.push(`${c.deviceId}#${c.seq}`);
      }
      expect(found).toEqual(expect.arrayContaining([`${a}#1`, `${b}#7`]));
      expect(found).not.toContain(`${a}#2`);
    });
  });
}
