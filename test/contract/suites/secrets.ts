import { describe, expect, it } from "vitest";
import type { Secret } from "../../../shared/domain/secret.ts";
import { type ContractContext, ws } from "./context.ts";

const aSecret = (workspaceId: string, extra: Partial<Secret> = {}): Secret => ({
  workspaceId,
  namespace: "default",
  name: "hf",
  type: "Environment",
  description: "",
  allowMemberJobs: false,
  version: 1,
  revision: 1,
  fingerprint: "0123456789abcdef",
  sizeBytes: 9,
  keyId: "k1",
  ciphertext: "nonce.ct",
  createdAt: "2026-12-01T00:00:00.000Z",
  updatedAt: "2026-12-01T00:00:00.000Z",
  createdBy: "key1",
  updatedBy: "key1",
  ...extra,
});

export function secretContract(ctx: ContractContext) {
  describe("SecretRepository", () => {
    it("stores a name once per namespace, and lists a namespace's by name", async () => {
      const w = ws();
      const repo = () => ctx.repos().secrets;
      expect(await repo().create(aSecret(w))).toBe(true);
      expect(await repo().create(aSecret(w, { ciphertext: "other" }))).toBe(false);
      expect((await repo().get(w, "default", "hf"))?.ciphertext).toBe("nonce.ct");
      expect(await repo().create(aSecret(w, { namespace: "team-a" }))).toBe(true);
      expect(await repo().create(aSecret(w, { name: "db", type: "File" }))).toBe(true);
      expect(await repo().create(aSecret(w, { name: "a.b_c-d" }))).toBe(true);
      const names = (await repo().list(w, "default", { limit: 10 })).items.map((s) => s.name);
      expect(names).toEqual(["a.b_c-d", "db", "hf"]);
      expect((await repo().list(w, "team-a", { limit: 10 })).items.map((s) => s.name)).toEqual(["hf"]);
      expect(await repo().get(ws(), "default", "hf")).toBeUndefined();
    });

    it("replaces a secret only at the revision it was read at; deletes once", async () => {
      const w = ws();
      const repo = () => ctx.repos().secrets;
      const first = aSecret(w);
      await repo().create(first);
      const next = { ...first, version: 2, revision: 2, ciphertext: "v2" };
      expect(await repo().replace(first, next)).toEqual(next);
      // A second writer that read revision 1 loses.
      expect(await repo().replace(first, { ...first, revision: 2, description: "late" })).toBeUndefined();
      expect(await repo().get(w, "default", "hf")).toEqual(next);
      expect(await repo().delete(w, "default", "hf")).toBe(true);
      expect(await repo().delete(w, "default", "hf")).toBe(false);
      // Nothing to replace once it is gone.
      expect(await repo().replace(next, { ...next, revision: 3 })).toBeUndefined();
      expect(await repo().get(w, "default", "hf")).toBeUndefined();
    });
  });
}
