import { z } from "@hono/zod-openapi";
import { NodeGroupName } from "../domain/node-group.ts";
import { Id, PageQuery, pageOf } from "./common.ts";
import { LabelsInput, StringMap } from "./labels.ts";

export const CreateNodeGroupRequest = z
  .object({
    name: NodeGroupName,
    description: z.string().max(1000).default(""),
    labels: LabelsInput().default({}),
  })
  .openapi("CreateNodeGroupRequest");
export type CreateNodeGroupRequest = z.infer<typeof CreateNodeGroupRequest>;

export const UpdateNodeGroupRequest = z
  .object({ description: z.string().max(1000).optional(), labels: LabelsInput().optional() })
  .openapi("UpdateNodeGroupRequest");
export type UpdateNodeGroupRequest = z.infer<typeof UpdateNodeGroupRequest>;

export const NodeGroupView = z
  .object({
    id: z.string(),
    name: z.string(),
    workspaceId: z.string(),
    description: z.string(),
    labels: StringMap,
    deviceCount: z.number(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi("NodeGroup");
export type NodeGroupView = z.infer<typeof NodeGroupView>;

export const NodeGroupPage = pageOf(NodeGroupView).openapi("NodeGroupPage");
export const ListNodeGroupsQuery = PageQuery;

export const NameParam = z.object({
  name: Id.openapi({ param: { name: "name", in: "path" } }),
});
