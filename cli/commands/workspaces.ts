import type { Command } from "commander";
import { createDb, type Db, ensureTable } from "../../shared/adapters/dynamo/client.ts";
import { dynamoRepositories } from "../../shared/adapters/dynamo/repositories.ts";
import { dataPaths, ensureDataDir, lockDataDir } from "../../shared/adapters/local/data-dir.ts";
import {
  type Engine,
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  startDynalite,
} from "../../shared/adapters/local/engines.ts";
import { WorkspaceName } from "../../shared/domain/workspace.ts";
import { systemClock } from "../../shared/ports/clock.ts";
import { bootstrapWorkspace, issueAdminKey } from "../../shared/usecases/bootstrap.ts";
import { dataDirOf, type GlobalOptions } from "../context.ts";
import { CliError } from "../errors.ts";

interface Options {
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
      const { db, engine } = await openTable(program.opts<GlobalOptions>(), o);
      try {
        const deps = { repos: dynamoRepositories(db), clock: systemClock };
        let token: string | undefined;
        const boot = await bootstrapWorkspace(deps, name, async (t) => {
          token = t;
        });
        if (!boot.created) {
          if (!o.newAdminKey) {
            throw new CliError(
              `workspace ${name} already exists; pass --new-admin-key to issue another admin key for it`,
            );
          }
          token = (await issueAdminKey(deps, name, "admin (reissued)")).token;
        }
        process.stdout.write(
          `${boot.created ? "Created workspace" : "Issued a new admin key for workspace"} ${name}.\n` +
            `Admin key, shown only now:\n\n  ${token}\n`,
        );
      } finally {
        db.doc.destroy();
        await engine?.stop();
      }
    });
}

async function openTable(globals: GlobalOptions, o: Options): Promise<{ db: Db; engine?: Engine }> {
  if (o.table) {
    return {
      db: createDb(o.table, {
        ...(o.region ? { region: o.region } : {}),
        ...(o.dynamodbEndpoint ? { endpoint: o.dynamodbEndpoint } : {}),
      }),
    };
  }
  const dir = dataDirOf(globals, process.env);
  await ensureDataDir(dir);
  const unlock = await lockDataDir(dir).catch((err: Error) => {
    throw new CliError(
      `${err.message.replace(/; stop it first$/, "")}; stop the local server first, or pass --table`,
    );
  });
  const dynalite = await startDynalite(dataPaths(dir).dynamo);
  const engine: Engine = {
    endpoint: dynalite.endpoint,
    stop: async () => {
      await dynalite.stop();
      await unlock();
    },
  };
  const db = createDb(process.env.BERTH_TABLE_NAME || "berth", {
    endpoint: engine.endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  await ensureTable(db);
  return { db, engine };
}
