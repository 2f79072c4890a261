import { describe, expect, it } from "vitest";
import { CorruptItemError } from "../../../shared/adapters/repositories/base.ts";
import { keys } from "../../../shared/adapters/repositories/keys.ts";
import type { ApiKey } from "../../../shared/domain/api-key.ts";
import { newId } from "../../../shared/domain/ids.ts";
import { type ContractContext, codeOf, ws } from "./context.ts";

export function apiKeyContract(ctx: ContractContext) {
  const { repos, db } = ctx;
  let clockMs = Date.parse("2026-11-01T00:00:00Z");
  const apiKey = (workspaceId: string, extra: Partial<ApiKey> = {}): ApiKey => {
    clockMs += 1000;
    const id = newId(clockMs);
    return {
      id,
      workspaceId,
      name: `key-${id.slice(-4)}`,
      role: "member",
      tokenHash: "ab".repeat(32),
      createdAt: new Date(clockMs).toISOString(),
      ...extra,
    };
  };

  describe("ApiKeyRepository", () => {
    it("stores a key and reads it back by id", async () => {
      const key = apiKey(ws(), { expiresAt: "2027-01-01T00:00:00.000Z" });
      await repos().apiKeys.create(key);
      expect(await repos().apiKeys.get(key.id)).toEqual(key);
      expect(await repos().apiKeys.get(newId())).toBeUndefined();
    });

    it("never overwrites a key with the same id", async () => {
      const key = apiKey(ws());
      await repos().apiKeys.create(key);
      expect(await codeOf(repos().apiKeys.create({ ...key, name: "other" }))).toBe("Conflict");
      expect((await repos().apiKeys.get(key.id))?.name).toBe(key.name);
    });

    it("lists a workspace's keys oldest first, page by page, without other workspaces' keys", async () => {
      const mine = ws();
      const created = [apiKey(mine), apiKey(mine), apiKey(mine), apiKey(mine), apiKey(mine)];
      for (const k of created) await repos().apiKeys.create(k);
      await repos().apiKeys.create(apiKey(ws()));

      const first = await repos().apiKeys.list(mine, { limit: 2 });
      const second = await repos().apiKeys.list(mine, { limit: 2, cursor: first.cursor });
      const third = await repos().apiKeys.list(mine, { limit: 2, cursor: second.cursor });
      expect([...first.items, ...second.items, ...third.items].map((k) => k.id)).toEqual(
        created.map((k) => k.id),
      );
      expect(first.cursor).toBeDefined();
      expect(third.cursor).toBeUndefined();
    });

    it("gives no cursor when the last page is exactly full", async () => {
      const mine = ws();
      for (let i = 0; i < 2; i++) await repos().apiKeys.create(apiKey(mine));
      const page = await repos().apiKeys.list(mine, { limit: 2 });
      expect(page.items).toHaveLength(2);
      expect(page.cursor).toBeUndefined();
    });

    it("leaves revoked keys out of full pages unless asked for them", async () => {
      const mine = ws();
      const keysCreated = [apiKey(mine), apiKey(mine), apiKey(mine), apiKey(mine)];
      for (const k of keysCreated) await repos().apiKeys.create(k);
      await repos().apiKeys.revoke(mine, keysCreated[0]!.id, "2026-11-02T00:00:00.000Z");
      await repos().apiKeys.revoke(mine, keysCreated[1]!.id, "2026-11-02T00:00:00.000Z");

      const live = await repos().apiKeys.list(mine, { limit: 2 });
      expect(live.items.map((k) => k.id)).toEqual([keysCreated[2]!.id, keysCreated[3]!.id]);
      expect(live.cursor).toBeUndefined();
      const all = await repos().apiKeys.list(mine, { limit: 10 }, { includeRevoked: true });
      expect(all.items).toHaveLength(4);
      expect(all.items[0]!.revokedAt).toBe("2026-11-02T00:00:00.000Z");
    });

    it("revokes once: a second revoke reports false and changes nothing", async () => {
      const mine = ws();
      const key = apiKey(mine);
      await repos().apiKeys.create(key);
      expect(await repos().apiKeys.revoke(mine, key.id, "2026-11-02T00:00:00.000Z")).toBe(true);
      expect(await repos().apiKeys.revoke(mine, key.id, "2026-11-03T00:00:00.000Z")).toBe(false);
      expect((await repos().apiKeys.get(key.id))?.revokedAt).toBe("2026-11-02T00:00:00.000Z");
    });

    it("lets exactly one of two concurrent revokes write", async () => {
      const mine = ws();
      const key = apiKey(mine);
      await repos().apiKeys.create(key);
      const results = await Promise.all([
        repos().apiKeys.revoke(mine, key.id, "2026-11-02T00:00:00.000Z"),
        repos().apiKeys.revoke(mine, key.id, "2026-11-03T00:00:00.000Z"),
      ]);
      expect(results.sort()).toEqual([false, true]);
    });

    it("treats another workspace's key, or an unknown one, as not found and leaves it alone", async () => {
      const owner = ws();
      const key = apiKey(owner);
      await repos().apiKeys.create(key);
      expect(await codeOf(repos().apiKeys.revoke(ws(), key.id, "2026-11-02T00:00:00.000Z"))).toBe("NotFound");
      expect(await codeOf(repos().apiKeys.revoke(owner, newId(), "2026-11-02T00:00:00.000Z"))).toBe(
        "NotFound",
      );
      expect((await repos().apiKeys.get(key.id))?.revokedAt).toBeUndefined();
    });

    it("records use at most once per window, even when many requests race", async () => {
      const key = apiKey(ws());
      await repos().apiKeys.create(key);
      const at = (s: number) => new Date(Date.parse("2026-11-05T00:00:00Z") + s * 1000).toISOString();
      await Promise.all(Array.from({ length: 10 }, (_, i) => repos().apiKeys.touch(key.id, at(i), 60_000)));
      const first = (await repos().apiKeys.get(key.id))?.lastUsedAt;
      expect(first).toBeDefined();
      await repos().apiKeys.touch(key.id, at(30), 60_000);
      expect((await repos().apiKeys.get(key.id))?.lastUsedAt).toBe(first);
      await repos().apiKeys.touch(key.id, at(200), 60_000);
      expect((await repos().apiKeys.get(key.id))?.lastUsedAt).toBe(at(200));
    });

    it("does not create a key by touching an unknown id", async () => {
      const id = newId();
      await repos().apiKeys.touch(id, "2026-11-05T00:00:00.000Z", 60_000);
      expect(await repos().apiKeys.get(id)).toBeUndefined();
    });

    it("refuses to return an item that does not match its schema", async () => {
      const id = newId();
      await db().put({ ...keys.apiKey(id), id, workspaceId: "x", role: "root" });
      await expect(repos().apiKeys.get(id)).rejects.toBeInstanceOf(CorruptItemError);
    });
  });
}
