import type { Repositories } from "../../ports/repositories.ts";
import { dynamoApiKeyRepository } from "./api-key-repository.ts";
import type { Db } from "./client.ts";
import { dynamoWorkspaceRepository } from "./workspace-repository.ts";

/** Every repository, on one table. */
export function dynamoRepositories(db: Db): Repositories {
  return {
    workspaces: dynamoWorkspaceRepository(db),
    apiKeys: dynamoApiKeyRepository(db),
  };
}
