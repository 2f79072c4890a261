import type { Command } from "commander";
import { WorkspaceName } from "../../shared/domain/workspace.ts";
import type { GlobalOptions } from "../context.ts";
import { CliError } from "../errors.ts";

export interface Options {
  table?: string;
  region?: string;
  dynamodbEndpoint?: string;
  newAdminKey?: boolean;
}

/**
 * `berth workspaces create <name>`: an operator command that writes straight to the table (no API key
 * can create a workspace). It is how a deployed stage gets its first admin key, and how more workspaces
 * are added. With --table it uses the AWS SDK's usual credentials; without, the local data dir (the local
 * server must be stopped: one process at a time may open it).
 */
export function workspacesCommand(program: Command) {
  const workspaces = program
    .command("workspaces")
    .description("operator commands on workspaces (direct table access)");
  workspaces
    .command("create <name>")
    .description("create a workspace and print an admin key for it (once)")
    .option("--table <name>", "DynamoDB table of a deployed stage (default: the local data dir's table)")
    .option("--region <region>", "AWS region of --table (default: the AWS SDK's)")
    .option("--dynamodb-endpoint <url>", "a DynamoDB-compatible endpoint instead of AWS")
    .option("--new-admin-key", "if the workspace exists, issue another admin key for it")
    .action(async (name: string, o: Options) => {
      const parsed = WorkspaceName.safeParse(name);
      if (!parsed.success)
        throw new CliError(`workspace name "${name}" ${parsed.error.issues[0]?.message}`, 2);
      // Loaded only for this command: it brings the storage engines.
      const { createWorkspace } = await import("./workspaces-create.ts");
      await createWorkspace(program.opts<GlobalOptions>(), name, o);
    });
}
