import { Command, CommanderError } from "commander";
import { BERTH_VERSION } from "../shared/version.ts";
import { agentCommand } from "./commands/agent.ts";
import { appsCommand } from "./commands/apps.ts";
import { clusterCommand } from "./commands/cluster.ts";
import { completionCommand } from "./commands/completion.ts";
import { devicesCommand } from "./commands/devices.ts";
import { healthCommand } from "./commands/health.ts";
import { jobsCommand } from "./commands/jobs.ts";
import { keysCommand } from "./commands/keys.ts";
import { fileserversCommand, labsCommand } from "./commands/labs.ts";
import { loginCommand } from "./commands/login.ts";
import { namespacesCommand } from "./commands/namespaces.ts";
import { nodeGroupsCommand } from "./commands/node-groups.ts";
import { profilesCommand } from "./commands/profiles.ts";
import { quotasCommand } from "./commands/quotas.ts";
import { reservationsCommand } from "./commands/reservations.ts";
import { runCommand } from "./commands/run.ts";
import { secretsCommand } from "./commands/secrets.ts";
import { serverCommand } from "./commands/server.ts";
import { tokensCommand } from "./commands/tokens.ts";
import { workspacesCommand } from "./commands/workspaces.ts";
import { type GlobalOptions, outputFormat } from "./context.ts";
import { CliError } from "./errors.ts";

/** The `berth` command. */
export function buildProgram(): Command {
  const program = new Command("berth")
    .description("Berth: a control plane for GPU fleets")
    .version(BERTH_VERSION)
    .option(
      "--endpoint <url>",
      "API endpoint (env BERTH_ENDPOINT, config file, default http://127.0.0.1:8787)",
    )
    .option("--api-key <key>", "API key (env BERTH_API_KEY, config file, or <data dir>/admin-key)")
    .option("-o, --output <format>", "table or json", "table")
    .option("--data-dir <dir>", "local data directory (env BERTH_DATA_DIR, default ./.berth)")
    .showHelpAfterError()
    .exitOverride()
    // Bad global flags fail before any command does I/O.
    .hook("preAction", (cmd) => {
      outputFormat(cmd.opts<GlobalOptions>());
    });
  serverCommand(program);
  loginCommand(program);
  keysCommand(program);
  tokensCommand(program);
  nodeGroupsCommand(program);
  devicesCommand(program);
  healthCommand(program);
  reservationsCommand(program);
  runCommand(program);
  jobsCommand(program);
  clusterCommand(program);
  profilesCommand(program);
  quotasCommand(program);
  namespacesCommand(program);
  appsCommand(program);
  labsCommand(program);
  fileserversCommand(program);
  secretsCommand(program);
  agentCommand(program);
  workspacesCommand(program);
  completionCommand(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (err) {
    // A usage error (unknown option, missing argument...) exits 2, as the README says; --help and --version 0.
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof CliError) {
      process.stderr.write(`error: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`error: ${(err as Error).message}\n`);
    return 1;
  }
}
