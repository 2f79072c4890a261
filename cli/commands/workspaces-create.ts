import { createDb, type Db, ensureTable } from "../../shared/adapters/dynamo/client.ts";
import { dynamoRepositories } from "../../shared/adapters/dynamo/repositories.ts";
import { dataPaths, ensureDataDir, lockDataDir } from "../../shared/adapters/local/data-dir.ts";
import {
  type Engine,
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  startDynalite,
} from "../../shared/adapters/local/engines.ts";
import { systemClock } from "../../shared/ports/clock.ts";
import { bootstrapWorkspace, issueAdminKey } from "../../shared/usecases/bootstrap.ts";
import { dataDirOf, type GlobalOptions } from "../context.ts";
import { CliError } from "../errors.ts";
import type { Options } from "./workspaces.ts";

/** Creates the workspace (or issues another admin key for it) and prints the key once. */
export async function createWorkspace(globals: GlobalOptions, name: string, o: Options) {
  const { db, engine } = await openTable(globals, o);
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
