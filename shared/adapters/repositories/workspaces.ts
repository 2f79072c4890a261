import { Workspace } from "../../domain/workspace.ts";
import type { WorkspaceRepository } from "../../ports/repositories.ts";
import type { Store } from "../../ports/store.ts";
import { createOnly, itemOf, parseItem } from "./base.ts";
import { keys } from "./keys.ts";

export function workspaceRepository(store: Store): WorkspaceRepository {
  return {
    async get(id) {
      const item = await store.get(keys.workspace(id));
      return item ? parseItem(Workspace, "workspace", item) : undefined;
    },
    // Two bootstraps at once: only one creates the workspace.
    create: (workspace) =>
      createOnly(store, `workspace ${workspace.id}`, itemOf(keys.workspace(workspace.id), workspace)),
  };
}
