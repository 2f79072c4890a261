import { describe, expect, it } from "vitest";
import { newId } from "../../../shared/domain/ids.ts";
import { type ContractContext, codeOf, commits, ws } from "./context.ts";
import { aToken } from "./fixtures.ts";

export function registrationTokenContract(ctx: ContractContext) {
  const { repos } = ctx;
  const now = "2026-11-05T00:00:00.000Z";

  describe("RegistrationTokenRepository", () => {
    it("stores, reads, lists and deletes tokens within their workspace", async () => {
      const mine = ws();
      const a = aToken(mine);
      const b = aToken(mine);
      await repos().registrationTokens.create(a);
      await repos().registrationTokens.create(b);
      await repos().registrationTokens.create(aToken(ws()));
      expect(await repos().registrationTokens.get(a.id)).toEqual(a);
      expect((await repos().registrationTokens.list(mine, { limit: 10 })).items.map((t) => t.id)).toEqual([
        a.id,
        b.id,
      ]);
      expect(await codeOf(repos().registrationTokens.delete(ws(), a.id))).toBe("NotFound");
      await repos().registrationTokens.delete(mine, a.id);
      expect(await repos().registrationTokens.get(a.id)).toBeUndefined();
      expect(await codeOf(repos().registrationTokens.delete(mine, a.id))).toBe("NotFound");
    });

    it("updates fields, removes them with null, and refuses another workspace", async () => {
      const mine = ws();
      const token = aToken(mine, { maxRegistrations: 3, expiresAt: "2027-01-01T00:00:00.000Z" });
      await repos().registrationTokens.create(token);
      const updated = await repos().registrationTokens.update(
        mine,
        token.id,
        { name: "new", maxRegistrations: null },
        now,
      );
      expect(updated).toMatchObject({ name: "new", updatedAt: now, expiresAt: "2027-01-01T00:00:00.000Z" });
      expect(updated.maxRegistrations).toBeUndefined();
      expect(await codeOf(repos().registrationTokens.update(ws(), token.id, { name: "x" }, now))).toBe(
        "NotFound",
      );
      expect(await codeOf(repos().registrationTokens.update(mine, newId(), { name: "x" }, now))).toBe(
        "NotFound",
      );
    });

    it("lets exactly maxRegistrations of 20 concurrent claims succeed", async () => {
      const token = aToken(ws(), { maxRegistrations: 5 });
      await repos().registrationTokens.create(token);
      const claims = await Promise.all(
        Array.from({ length: 20 }, () => commits(repos(), repos().registrationTokens.claim(token.id, now))),
      );
      expect(claims.filter(Boolean)).toHaveLength(5);
      expect((await repos().registrationTokens.get(token.id))?.deviceCount).toBe(5);
    });

    it("refuses claims on an expired, deleted or unknown token without writing", async () => {
      const expired = aToken(ws(), { expiresAt: "2026-11-04T00:00:00.000Z" });
      await repos().registrationTokens.create(expired);
      expect(await commits(repos(), repos().registrationTokens.claim(expired.id, now))).toBe(false);
      expect((await repos().registrationTokens.get(expired.id))?.deviceCount).toBe(0);
      const unknown = newId();
      expect(await commits(repos(), repos().registrationTokens.claim(unknown, now))).toBe(false);
      expect(await repos().registrationTokens.get(unknown)).toBeUndefined();
    });

    it("gives registrations back, never below zero and never recreating a deleted token", async () => {
      const mine = ws();
      const token = aToken(mine);
      await repos().registrationTokens.create(token);
      expect(await commits(repos(), repos().registrationTokens.claim(token.id, now))).toBe(true);
      expect(await commits(repos(), repos().registrationTokens.release(token.id))).toBe(true);
      expect(await commits(repos(), repos().registrationTokens.release(token.id))).toBe(false);
      expect((await repos().registrationTokens.get(token.id))?.deviceCount).toBe(0);
      await repos().registrationTokens.delete(mine, token.id);
      expect(await commits(repos(), repos().registrationTokens.release(token.id))).toBe(false);
      expect(await repos().registrationTokens.get(token.id)).toBeUndefined();
    });
  });
}
