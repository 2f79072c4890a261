import type { Workspace } from "../../domain/workspace.ts";

export interface WorkspaceRepository {
  get(id: string): Promise<Workspace | undefined>;
  /** Creates the workspace; throws Conflict when it exists. */
  create(workspace: Workspace): Promise<void>;
}
