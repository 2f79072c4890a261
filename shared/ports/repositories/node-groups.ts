import type { NodeGroup } from "../../domain/node-group.ts";
import type { Page, PageRequest } from "../pagination.ts";
import type { Write } from "./write.ts";

export type NodeGroupPatch = Partial<Pick<NodeGroup, "description" | "labels">>;

export interface NodeGroupRepository {
  /** Throws Conflict when the workspace already has a group of that name. */
  create(group: NodeGroup): Promise<void>;
  get(workspaceId: string, name: string): Promise<NodeGroup | undefined>;
  /** By id, in any workspace (GPUd may name a group by id); may lag a create by a moment. */
  getById(id: string): Promise<NodeGroup | undefined>;
  list(workspaceId: string, page: PageRequest): Promise<Page<NodeGroup>>;
  /** Throws NotFound. */
  update(workspaceId: string, name: string, patch: NodeGroupPatch, at: string): Promise<NodeGroup>;
  /** Throws NotFound, or Conflict while devices are in the group. */
  delete(workspaceId: string, name: string): Promise<void>;
  /** Counts a device into the group; fails when the group does not exist. */
  join(workspaceId: string, name: string): Write;
  /** Counts a device out; fails when the group is gone or its count is 0. */
  leave(workspaceId: string, name: string): Write;
}
