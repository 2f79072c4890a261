import { openOperatorStore } from "../../hosts/operator.ts";
import { repositories } from "../../shared/adapters/repositories/index.ts";
import { systemClock } from "../../shared/ports/clock.ts";
import { bootstrapWorkspace, issueAdminKey } from "../../shared/usecases/identity/bootstrap.ts";
import type { GlobalOptions } from "../context.ts";
import { CliError } from "../errors.ts";
import { localConfig } from "../storage-options.ts";
import type { Options } from "./workspaces.ts";

/** Creates the workspace (or issues another admin key for it) and prints the key once. */
export async function createWorkspace(globals: GlobalOptions, name: string, o: Options) {
  const config = localConfig(globals, {
    database: o.database,
    table: o.table,
    dynamodbEndpoint: o.dynamodbEndpoint,
    region: o.region,
  });
  const { store, close } = await openOperatorStore(config).catch((err: Error) => {
    throw new CliError(err.message);
  });
  try {
    const deps = { repos: repositories(store), clock: systemClock };
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
    await close();
  }
}
