import { GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { conflict } from "../../domain/errors.ts";
import { Workspace } from "../../domain/workspace.ts";
import type { WorkspaceRepository } from "../../ports/repositories.ts";
import type { Db } from "./client.ts";
import { isConditionFailure, keys, parseItem } from "./items.ts";

export function dynamoWorkspaceRepository(db: Db): WorkspaceRepository {
  return {
    async get(id) {
      const out = await db.doc.send(
        new GetCommand({ TableName: db.table, Key: keys.workspace(id), ConsistentRead: true }),
      );
      return out.Item ? parseItem(Workspace, "workspace", out.Item) : undefined;
    },
    async create(workspace) {
      try {
        // Two bootstraps at once: only one creates the workspace.
        await db.doc.send(
          new PutCommand({
            TableName: db.table,
            Item: { ...keys.workspace(workspace.id), ...workspace },
            ConditionExpression: "attribute_not_exists(pk)",
          }),
        );
      } catch (err) {
        if (isConditionFailure(err)) throw conflict(`workspace ${workspace.id} already exists`);
        throw err;
      }
    },
  };
}
