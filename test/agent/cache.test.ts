import { mkdtemp, readdir, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type CacheRecord, ReservationCache } from "../../agent/cache.ts";
import { ensureAgentDir, loadCursor, loadOrCreateKeys, saveCursor } from "../../agent/state.ts";

const record = (id: string): CacheRecord => ({
  reservation: {
    id,
    nodeId: "n",
    workspaceId: "w",
    user: "u",
    type: "process",
    data: "{}",
    created: "2026-11-01T00:00:00.000Z",
    duration: 60,
    signature: "s",
    toDelete: false,
  },
  status: "running",
  workload: { kind: "process", pid: 123, dir: "/tmp/x", grace: 10 },
  updatedAt: "",
});

describe("the agent's data dir", () => {
  it("keeps records across a restart, each in a file only its owner can read", async () => {
    const dir = await ensureAgentDir(await mkdtemp(join(tmpdir(), "agent-")));
    const cache = new ReservationCache(dir.cache);
    await cache.put(record("a"));
    await cache.put(record("b"));
    await cache.drop("b");
    const again = new ReservationCache(dir.cache);
    await again.load();
    expect(again.all().map((r) => r.reservation.id)).toEqual(["a"]);
    expect(again.get("a")?.workload).toEqual({ kind: "process", pid: 123, dir: "/tmp/x", grace: 10 });
    expect((await stat(join(dir.cache, "a.json"))).mode & 0o777).toBe(0o600);
    expect((await stat(dir.dir)).mode & 0o777).toBe(0o700);
    expect(await readdir(dir.cache)).toEqual(["a.json"]);
  });

  it("stores the cursor and generates the node's keys once", async () => {
    const dir = await mkdtemp(join(tmpdir(), "agent-"));
    await ensureAgentDir(dir);
    expect(await loadCursor(dir)).toBe(0);
    await saveCursor(dir, 42);
    expect(await loadCursor(dir)).toBe(42);
    const keys = await loadOrCreateKeys(dir);
    expect((await loadOrCreateKeys(dir)).signingPublic).toBe(keys.signingPublic);
    expect(Buffer.from(keys.encryptionPublic, "base64")).toHaveLength(32);
    expect((await stat(join(dir, "node.key"))).mode & 0o777).toBe(0o600);
  });
});
