import type { Command } from "commander";
import { WorkspaceName } from "../../shared/domain/workspace.ts";
import type { GlobalOptions } from "../context.ts";
import { CliError } from "../errors.ts";
import { type StorageOptions, storageOptions } from "../storage-options.ts";

export interface Options extends StorageOptions {
  newAdminKey?: boolean;
}

/**
 * `berth workspaces create <name>`: an operator command that writes straight to the table (no API key
 * can create a workspace). It is how a deployed stage gets its first admin key, and how more workspaces
 * are added. It opens the same storage `berth server` would (the same flags and environment): --table a
 * DynamoDB table with the AWS SDK's usual credentials, --database a PostgreSQL database, and by default the
 * data dir's SQLite database (its server must be stopped: one process at a time may open it).
 */
export function workspacesCommand(program: Command) {
  const workspaces = program
    .command("workspaces")
    .description("operator commands on workspaces (direct table access)");
  storageOptions(
    workspaces
      .command("create <name>")
      .description("create a workspace and print an admin key for it (once)")
      .option("--new-admin-key", "if the workspace exists, issue another admin key for it"),
  ).action(async (name: string, o: Options) => {
    const parsed = WorkspaceName.safeParse(name);
    if (!parsed.success) throw new CliError(`workspace name "${name}" ${parsed.error.issues[0]?.message}`, 2);
    // Loaded only for this command: it brings the storage engines.
    const { createWorkspace } = await import("./workspaces-create.ts");
    await createWorkspace(program.opts<GlobalOptions>(), name, o);
  });
}
