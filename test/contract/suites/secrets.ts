import { describe, expect, it } from "vitest";
import type { Namespace } from "../../../shared/domain/namespace.ts";
import type { Secret } from "../../../shared/domain/secret.ts";
import { aSecret } from "../../helpers/secrets.ts";
import { type ContractContext, commits, ws } from "./context.ts";

export function secretContract(ctx: ContractContext) {
  describe("SecretRepository", () => {
    it("stores a name once per namespace, and lists a namespace's by name", async () => {
      const w = ws();
      const repo = () => ctx.repos().secrets;
      const create = (s: Secret) => commits(ctx.repos(), repo().create(s));
      expect(await create(aSecret(w))).toBe(true);
      expect(await create(aSecret(w, { ciphertext: "other" }))).toBe(false);
      expect((await repo().get(w, "default", "hf"))?.ciphertext).toBe("nonce.ct");
      expect(await create(aSecret(w, { namespace: "team-a" }))).toBe(true);
      expect(await create(aSecret(w, { name: "db", type: "File" }))).toBe(true);
      expect(await create(aSecret(w, { name: "a.b_c-d" }))).toBe(true);
      const names = (await repo().list(w, "default", { limit: 10 })).items.map((s) => s.name);
      expect(names).toEqual(["a.b_c-d", "db", "hf"]);
      expect((await repo().list(w, "team-a", { limit: 10 })).items.map((s) => s.name)).toEqual(["hf"]);
      expect(await repo().get(ws(), "default", "hf")).toBeUndefined();
    });

    it("replaces a secret only at the revision it was read at; deletes once", async () => {
      const w = ws();
      const repo = () => ctx.repos().secrets;
      const first = aSecret(w);
      expect(await commits(ctx.repos(), repo().create(first))).toBe(true);
      const next = { ...first, version: 2, revision: 2, ciphertext: "v2" };
      expect(await repo().replace(first, next)).toEqual(next);
      // A second writer that read revision 1 loses.
      expect(await repo().replace(first, { ...first, revision: 2, description: "late" })).toBeUndefined();
      expect(await repo().get(w, "default", "hf")).toEqual(next);
      expect(await commits(ctx.repos(), repo().delete(w, "default", "hf"))).toBe(true);
      expect(await commits(ctx.repos(), repo().delete(w, "default", "hf"))).toBe(false);
      // Nothing to replace once it is gone.
      expect(await repo().replace(next, { ...next, revision: 3 })).toBeUndefined();
      expect(await repo().get(w, "default", "hf")).toBeUndefined();
    });
  });

  describe("NamespaceRepository", () => {
    const aNamespace = (workspaceId: string, extra: Partial<Namespace> = {}): Namespace => ({
      id: `id-${workspaceId}`,
      workspaceId,
      name: "team-a",
      description: "",
      config: {},
      status: "active",
      secretCount: 0,
      applicationCount: 0,
      revision: 1,
      createdAt: "2026-12-01T00:00:00.000Z",
      updatedAt: "2026-12-01T00:00:00.000Z",
      ...extra,
    });

    it("stores a name once, lists by name, and replaces at a revision without touching the counts", async () => {
      const w = ws();
      const repo = () => ctx.repos().namespaces;
      const create = (ns: Namespace) => commits(ctx.repos(), repo().create(ns));
      expect(await create(aNamespace(w))).toBe(true);
      expect(await create(aNamespace(w, { description: "again" }))).toBe(false);
      expect(await create(aNamespace(w, { name: "default" }))).toBe(true);
      expect((await repo().list(w, { limit: 10 })).items.map((n) => n.name)).toEqual(["default", "team-a"]);
      const first = (await repo().get(w, "team-a"))!;
      // A secret counted in between a read and a replace keeps its count.
      expect(await commits(ctx.repos(), repo().countSecret(w, "team-a", 1))).toBe(true);
      const next = { ...first, description: "A", revision: 2 };
      expect(await repo().replace(first, next)).toMatchObject({
        description: "A",
        revision: 2,
        secretCount: 1,
      });
      expect(await repo().replace(first, { ...first, revision: 2, description: "late" })).toBeUndefined();
      expect(await repo().get(ws(), "team-a")).toBeUndefined();
    });

    it("counts secrets only into an active namespace, and deletes one only deleting and empty", async () => {
      const w = ws();
      const repo = () => ctx.repos().namespaces;
      const count = (delta: 1 | -1, name = "team-a") =>
        commits(ctx.repos(), repo().countSecret(w, name, delta));
      expect(await count(1, "missing")).toBe(false);
      expect(await count(-1, "missing")).toBe(false);
      expect(await repo().get(w, "missing")).toBeUndefined();
      expect(await commits(ctx.repos(), repo().create(aNamespace(w)))).toBe(true);
      expect(await count(1)).toBe(true);
      expect(await commits(ctx.repos(), repo().deleteEmpty(w, "team-a"))).toBe(false); // active
      const active = (await repo().get(w, "team-a"))!;
      const deleting = (await repo().replace(active, { ...active, status: "deleting", revision: 2 }))!;
      expect(deleting.secretCount).toBe(1);
      expect(await count(1)).toBe(false);
      expect((await repo().deleting(100)).filter((n) => n.workspaceId === w).map((n) => n.name)).toEqual([
        "team-a",
      ]);
      expect(await commits(ctx.repos(), repo().deleteEmpty(w, "team-a"))).toBe(false); // a secret is still counted in it
      expect(await count(-1)).toBe(true);
      expect(await commits(ctx.repos(), repo().deleteEmpty(w, "team-a"))).toBe(true);
      expect(await repo().get(w, "team-a")).toBeUndefined();
      expect((await repo().deleting(100)).filter((n) => n.workspaceId === w)).toEqual([]);
    });
  });
}
