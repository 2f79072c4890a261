import type { Command } from "commander";
import { dashboardAssetLoader } from "../../hosts/dashboard-assets.ts";
import { jsonLogger } from "../../shared/adapters/logger.ts";
import type { GlobalOptions } from "../context.ts";
import { CliError } from "../errors.ts";
import { localConfig, type StorageOptions, storageOptions } from "../storage-options.ts";

/** `berth server`: the control plane in one process (what `npm start` runs), and its backup commands. */
export function serverCommand(program: Command) {
  const server = storageOptions(
    program
      .command("server")
      .description(
        "run the control plane: SQLite in the data dir by default, or --database postgres://... for several servers",
      )
      .option("--port <port>", "port to listen on (env PORT, default 8787; 0 picks a free one)")
      .option("--host <host>", "address to listen on (env HOST, default 127.0.0.1)")
      .option("--log-level <level>", "debug, info, warn, error or silent (env BERTH_LOG_LEVEL)")
      .option("--new-admin-key", "issue a new admin key and write it to <data dir>/admin-key"),
  ).action(
    async (
      o: StorageOptions & { port?: string; host?: string; logLevel?: string; newAdminKey?: boolean },
    ) => {
      // As the agent service of a deployed stage, SST's linked resources stand for some settings.
      const { serviceSettings } = await import("../../hosts/service-settings.ts");
      let service: ReturnType<typeof serviceSettings>;
      try {
        service = serviceSettings(process.env);
      } catch (err) {
        throw new CliError((err as Error).message, 2);
      }
      const config = localConfig(
        program.opts<GlobalOptions>(),
        {
          database: o.database,
          table: o.table,
          dynamodbEndpoint: o.dynamodbEndpoint,
          region: o.region,
          port: o.port,
          host: o.host,
          logLevel: o.logLevel,
        },
        { ...service.environment, ...process.env },
      );
      const logger = jsonLogger(config.logLevel);
      // Loaded only for this command: the storage engines and the whole app.
      const { startLocalServer } = await import("../../hosts/local-server.ts");
      const started = await startLocalServer(config, logger, { newAdminKey: o.newAdminKey, service }).catch(
        (err: Error) => {
          throw new CliError(
            `could not start the server: ${describeStartError(err)}`,
            err.name === "OldDataDirError" ? 2 : 1,
          );
        },
      );

      const say = (line = "") => process.stderr.write(`${line}\n`);
      say(`Berth control plane listening on ${started.url}`);
      for (const address of started.addresses) say(`  also at:   ${address} (from other machines)`);
      say(`  data dir:  ${started.dataDir}`);
      say(`  storage:   ${started.storage}`);
      const dashboard = await dashboardAssetLoader()("index.html");
      say(
        dashboard
          ? `  dashboard: ${started.url}/ui/ (sign in with an API key)`
          : "  dashboard: not built (npm run build)",
      );
      say(`  API docs:  ${started.url}/api/v1/docs`);
      say(
        `  cloud:     ${started.cloud ?? "not configured (jobs run on the fleet; set BERTH_ECS_CLUSTER for ECS)"}`,
      );
      if (started.linked) {
        say("  admin key: none here (a linked agent service; keys are made through the stage's API)");
      } else if (started.newAdminKey) {
        say(`  admin key: ${started.newAdminKey}`);
        say(`             (shown once; saved to ${started.adminKeyPath}, readable only by you)`);
      } else if (started.adminKeyMissing) {
        say(`  admin key: ${started.adminKeyPath} is missing; restart with --new-admin-key to issue one`);
      } else {
        say(`  admin key: in ${started.adminKeyPath}`);
      }
      say(started.linked ? "Stop: SIGTERM" : "Try: npx berth keys list     Stop: Ctrl-C");

      let signals = 0;
      const shutdown = (signal: string) => {
        if (++signals > 1) process.exit(130);
        say(`\n${signal}: shutting down`);
        started.stop().then(
          () => process.exit(0),
          (err: Error) => {
            say(`error while stopping: ${err.message}`);
            process.exit(1);
          },
        );
      };
      process.on("SIGINT", () => shutdown("SIGINT"));
      process.on("SIGTERM", () => shutdown("SIGTERM"));
    },
  );

  storageOptions(
    server
      .command("export [file]")
      .description(
        "write every item of the database as JSON lines to file or standard output (a backup; stop a SQLite server first)",
      )
      .option("--from-dynalite <dir>", "read a data dir made by Berth 0.1 (<data dir>/dynamo) instead")
      .option(
        "--from-version-1",
        "the database was written by Berth 0.1 (a DynamoDB table of a 0.1 stage): convert its items",
      ),
  ).action(
    async (
      file: string | undefined,
      o: StorageOptions & { fromDynalite?: string; fromVersion1?: boolean },
    ) => {
      const { exportItems } = await import("./server-backup.ts");
      await exportItems(program.opts<GlobalOptions>(), { ...o, file });
    },
  );

  storageOptions(
    server
      .command("import <file>")
      .description(
        "load items written by `berth server export` into an empty database (stop a SQLite server first)",
      )
      .option("--force", "load into a database that already has data (items with the same key are replaced)"),
  ).action(async (file: string, o: StorageOptions & { force?: boolean }) => {
    const { importItems } = await import("./server-backup.ts");
    await importItems(program.opts<GlobalOptions>(), file, o);
  });
}

function describeStartError(err: Error & { code?: string }): string {
  if (err.code === "EADDRINUSE")
    return `${err.message}: another process uses that port; pass --port or set PORT`;
  return err.message;
}
