import type {
  CreateNodeGroupRequest,
  NodeGroupView,
  UpdateNodeGroupRequest,
} from "../../contracts/node-groups.ts";
import { conflict, ErrorCode, isBerthError, notFound } from "../../domain/errors.ts";
import { newId } from "../../domain/ids.ts";
import { DEFAULT_NODE_GROUP, type NodeGroup } from "../../domain/node-group.ts";
import type { Clock } from "../../ports/clock.ts";
import type { Page, PageRequest } from "../../ports/pagination.ts";
import type { Repositories } from "../../ports/repositories.ts";

type Deps = { repos: Repositories; clock: Clock };

export const nodeGroupView = (g: NodeGroup): NodeGroupView => ({
  id: g.id,
  name: g.name,
  workspaceId: g.workspaceId,
  description: g.description,
  labels: g.labels,
  deviceCount: g.deviceCount,
  createdAt: g.createdAt,
  updatedAt: g.updatedAt,
});

export async function createNodeGroup(deps: Deps, workspaceId: string, input: CreateNodeGroupRequest) {
  const now = deps.clock.now().toISOString();
  const group: NodeGroup = {
    id: newId(),
    name: input.name,
    workspaceId,
    description: input.description,
    labels: input.labels,
    deviceCount: 0,
    createdAt: now,
    updatedAt: now,
  };
  await deps.repos.nodeGroups.create(group);
  return nodeGroupView(group);
}

/** Every workspace has a `default` group; creating it again changes nothing. */
export async function ensureDefaultNodeGroup(deps: Deps, workspaceId: string): Promise<void> {
  try {
    await createNodeGroup(deps, workspaceId, {
      name: DEFAULT_NODE_GROUP,
      description: "devices that name no other group",
      labels: {},
    });
  } catch (err) {
    if (!(isBerthError(err) && err.code === ErrorCode.Conflict)) throw err;
  }
}

export async function getNodeGroup(deps: Deps, workspaceId: string, name: string): Promise<NodeGroupView> {
  const group = await deps.repos.nodeGroups.get(workspaceId, name);
  if (!group) throw notFound(`node group ${name} not found`);
  return nodeGroupView(group);
}

export async function listNodeGroups(
  deps: Deps,
  workspaceId: string,
  page: PageRequest,
): Promise<Page<NodeGroupView>> {
  const result = await deps.repos.nodeGroups.list(workspaceId, page);
  return { items: result.items.map(nodeGroupView), cursor: result.cursor };
}

export async function updateNodeGroup(
  deps: Deps,
  workspaceId: string,
  name: string,
  patch: UpdateNodeGroupRequest,
) {
  return nodeGroupView(
    await deps.repos.nodeGroups.update(workspaceId, name, patch, deps.clock.now().toISOString()),
  );
}

/** Deletes an empty group. The `default` group and groups with devices are a 409. */
export async function deleteNodeGroup(deps: Deps, workspaceId: string, name: string): Promise<void> {
  if (name === DEFAULT_NODE_GROUP) {
    await getNodeGroup(deps, workspaceId, name);
    throw conflict("the default node group cannot be deleted");
  }
  await deps.repos.nodeGroups.delete(workspaceId, name);
}
