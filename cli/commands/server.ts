import type { Command } from "commander";
import { jsonLogger } from "../../shared/adapters/logger.ts";
import { ConfigError, localConfigFromEnv } from "../../shared/config.ts";
import type { GlobalOptions } from "../context.ts";
import { CliError } from "../errors.ts";

/** `berth server`: the embedded control plane (what `npm start` runs). This is its composition root. */
export function serverCommand(program: Command) {
  program
    .command("server")
    .description("run the control plane locally on embedded dynalite and fauxqs")
    .option("--port <port>", "port to listen on (env PORT, default 8787; 0 picks a free one)")
    .option("--host <host>", "address to listen on (env HOST, default 127.0.0.1)")
    .option("--log-level <level>", "debug, info, warn, error or silent (env BERTH_LOG_LEVEL)")
    .option("--new-admin-key", "issue a new admin key and write it to <data dir>/admin-key")
    .action(async (o: { port?: string; host?: string; logLevel?: string; newAdminKey?: boolean }) => {
      const globals = program.opts<GlobalOptions>();
      let config: ReturnType<typeof localConfigFromEnv>;
      try {
        config = localConfigFromEnv(process.env, {
          port: o.port,
          host: o.host,
          logLevel: o.logLevel,
          dataDir: globals.dataDir,
        });
      } catch (err) {
        if (err instanceof ConfigError) throw new CliError(err.message, 2);
        throw err;
      }
      const logger = jsonLogger(config.logLevel);
      // Loaded only for this command: the embedded engines and the whole app.
      const { startLocalServer } = await import("../../shared/adapters/local/server.ts");
      const server = await startLocalServer(config, logger, { newAdminKey: o.newAdminKey }).catch(
        (err: Error) => {
          throw new CliError(`could not start the server: ${describeStartError(err)}`);
        },
      );

      const say = (line = "") => process.stderr.write(`${line}\n`);
      say(`Berth control plane listening on ${server.url}`);
      say(`  data dir:  ${server.dataDir}`);
      say(`  API docs:  ${server.url}/api/v1/docs`);
      say(
        `  cloud:     ${server.cloud ?? "not configured (jobs run on the fleet; set BERTH_ECS_CLUSTER for ECS)"}`,
      );
      if (server.newAdminKey) {
        say(`  admin key: ${server.newAdminKey}`);
        say(`             (shown once; saved to ${server.adminKeyPath}, readable only by you)`);
      } else if (server.adminKeyMissing) {
        say(`  admin key: ${server.adminKeyPath} is missing; restart with --new-admin-key to issue one`);
      } else {
        say(`  admin key: in ${server.adminKeyPath}`);
      }
      say("Try: npx berth keys list     Stop: Ctrl-C");

      let signals = 0;
      const shutdown = (signal: string) => {
        if (++signals > 1) process.exit(130);
        say(`\n${signal}: shutting down`);
        server.stop().then(
          () => process.exit(0),
          (err: Error) => {
            say(`error while stopping: ${err.message}`);
            process.exit(1);
          },
        );
      };
      process.on("SIGINT", () => shutdown("SIGINT"));
      process.on("SIGTERM", () => shutdown("SIGTERM"));
    });
}

function describeStartError(err: Error & { code?: string }): string {
  if (err.code === "EADDRINUSE")
    return `${err.message}: another process uses that port; pass --port or set PORT`;
  return err.message;
}
