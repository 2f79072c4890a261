import { describe, expect, it } from "vitest";
import { newId } from "../../../shared/domain/ids.ts";
import { type ContractContext, codeOf, commits, ws } from "./context.ts";
import { aGroup } from "./fixtures.ts";

export function nodeGroupContract(ctx: ContractContext) {
  const { repos } = ctx;

  describe("NodeGroupRepository", () => {
    it("keeps names unique per workspace, not across workspaces", async () => {
      const mine = ws();
      await repos().nodeGroups.create(aGroup(mine, "gpu"));
      expect(await codeOf(repos().nodeGroups.create(aGroup(mine, "gpu")))).toBe("Conflict");
      await repos().nodeGroups.create(aGroup(ws(), "gpu"));
    });

    it("finds a group by name and by id, and lists a workspace's groups by name", async () => {
      const mine = ws();
      const b = aGroup(mine, "b");
      await repos().nodeGroups.create(b);
      await repos().nodeGroups.create(aGroup(mine, "a"));
      expect(await repos().nodeGroups.get(mine, "b")).toEqual(b);
      expect(await repos().nodeGroups.getById(b.id)).toEqual(b);
      expect(await repos().nodeGroups.getById(newId())).toBeUndefined();
      expect((await repos().nodeGroups.list(mine, { limit: 10 })).items.map((g) => g.name)).toEqual([
        "a",
        "b",
      ]);
    });

    it("updates a group and refuses to recreate a missing one", async () => {
      const mine = ws();
      await repos().nodeGroups.create(aGroup(mine, "g"));
      const updated = await repos().nodeGroups.update(
        mine,
        "g",
        { description: "d" },
        "2026-11-02T00:00:00.000Z",
      );
      expect(updated.description).toBe("d");
      expect(await codeOf(repos().nodeGroups.update(mine, "missing", { description: "d" }, "x"))).toBe(
        "NotFound",
      );
      expect(await repos().nodeGroups.get(mine, "missing")).toBeUndefined();
    });

    it("counts joins and leaves, and deletes only an empty group", async () => {
      const mine = ws();
      await repos().nodeGroups.create(aGroup(mine, "g"));
      expect(await commits(repos(), repos().nodeGroups.join(mine, "g"))).toBe(true);
      expect(await codeOf(repos().nodeGroups.delete(mine, "g"))).toBe("Conflict");
      expect(await commits(repos(), repos().nodeGroups.leave(mine, "g"))).toBe(true);
      expect(await commits(repos(), repos().nodeGroups.leave(mine, "g"))).toBe(false);
      expect((await repos().nodeGroups.get(mine, "g"))?.deviceCount).toBe(0);
      await repos().nodeGroups.delete(mine, "g");
      expect(await codeOf(repos().nodeGroups.delete(mine, "g"))).toBe("NotFound");
    });

    it("never joins a deleted group, even when join and delete race", async () => {
      const mine = ws();
      await repos().nodeGroups.create(aGroup(mine, "race"));
      const [deleted, ...joins] = await Promise.all([
        codeOf(repos().nodeGroups.delete(mine, "race")),
        ...Array.from({ length: 10 }, () => commits(repos(), repos().nodeGroups.join(mine, "race"))),
      ]);
      const group = await repos().nodeGroups.get(mine, "race");
      if (deleted === "resolved") {
        expect(group).toBeUndefined();
        expect(joins.every((j) => j === false)).toBe(true);
      } else {
        expect(deleted).toBe("Conflict");
        expect(group?.deviceCount).toBe(joins.filter(Boolean).length);
      }
      expect(await commits(repos(), repos().nodeGroups.join(mine, "never-created"))).toBe(false);
      expect(await repos().nodeGroups.get(mine, "never-created")).toBeUndefined();
    });
  });
}
