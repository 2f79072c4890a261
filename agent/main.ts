import { Command, CommanderError } from "commander";
import { agentCommand } from "../cli/commands/agent.ts";
import { CliError } from "../cli/errors.ts";
import { BERTH_VERSION } from "../shared/version.ts";

/**
 * `berth-agent`: the node agent on its own, what a GPU machine installs (dist/berth-agent.mjs, one file with
 * everything it needs: no control-plane dependencies, no node_modules). `berth-agent [options]` is
 * `berth agent [options]`.
 */
const program = new Command("berth-agent")
  .description("Berth's node agent: register, long-poll for work, run it, report")
  .version(BERTH_VERSION)
  .showHelpAfterError()
  .exitOverride();
agentCommand(program);
// `berth-agent --token-file ...` runs the agent; `berth-agent agent ...` works too.
const argv = process.argv.slice(2);
const own = ["agent", "help", "--version", "-V"];
const args = argv[0] !== undefined && own.includes(argv[0]) ? argv : ["agent", ...argv];
try {
  await program.parseAsync(args, { from: "user" });
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
  if (err instanceof CliError) {
    process.stderr.write(`error: ${err.message}\n`);
    process.exit(err.exitCode);
  }
  throw err;
}
