import { describe, expect, it } from "vitest";
import { type ContractContext, codeOf, ws } from "./context.ts";

export function workspaceContract(ctx: ContractContext) {
  const { repos } = ctx;
  describe("WorkspaceRepository", () => {
    it("creates a workspace and reads it back", async () => {
      const id = ws();
      await repos().workspaces.create({ id, createdAt: "2026-11-01T00:00:00.000Z" });
      expect(await repos().workspaces.get(id)).toEqual({ id, createdAt: "2026-11-01T00:00:00.000Z" });
    });

    it("answers undefined for an unknown workspace", async () => {
      expect(await repos().workspaces.get(ws())).toBeUndefined();
    });

    it("lets exactly one of two concurrent creates of the same workspace win", async () => {
      const id = ws();
      const results = await Promise.all([
        codeOf(repos().workspaces.create({ id, createdAt: "2026-11-01T00:00:00.000Z" })),
        codeOf(repos().workspaces.create({ id, createdAt: "2026-11-02T00:00:00.000Z" })),
      ]);
      expect(results.sort()).toEqual(["Conflict", "resolved"]);
    });
  });
}
