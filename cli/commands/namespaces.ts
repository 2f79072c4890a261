import type { Command } from "commander";
import type { NamespaceView } from "../../shared/contracts/namespaces.ts";
import { type GlobalOptions, outputFormat, resolveClient } from "../context.ts";
import { CliError } from "../errors.ts";
import { ago, type Column, printObject, printRows } from "../output.ts";

const columns: Column<NamespaceView>[] = [
  { header: "NAME", value: (n) => n.name },
  { header: "STATUS", value: (n) => n.status },
  { header: "SECRETS", value: (n) => n.secretCount },
  { header: "APPLICATIONS", value: (n) => n.applicationCount },
  { header: "REGISTRY", value: (n) => n.config.registryAuthentication?.serverAddress },
  { header: "UPDATED", value: (n) => ago(n.updatedAt) },
  { header: "DESCRIPTION", value: (n) => n.description || undefined },
];

type RegistryFlags = {
  registryServer?: string;
  registryUser?: string;
  registrySecret?: string;
  clearRegistry?: boolean;
};

/** `--registry-server h --registry-user u --registry-secret s` as the config's registryAuthentication. */
function registryConfig(o: RegistryFlags) {
  const given = [o.registryServer, o.registryUser, o.registrySecret].filter((x) => x !== undefined).length;
  if (o.clearRegistry) {
    if (given > 0) throw new CliError("--clear-registry takes no other registry flag", 2);
    return { registryAuthentication: null };
  }
  if (given === 0) return undefined;
  if (given < 3)
    throw new CliError(
      "registry credentials need --registry-server, --registry-user and --registry-secret together",
      2,
    );
  return {
    registryAuthentication: {
      serverAddress: o.registryServer!,
      username: o.registryUser!,
      fromSecret: o.registrySecret!,
    },
  };
}

/** `berth namespaces create|list|get|update|delete` */
export function namespacesCommand(program: Command) {
  const namespaces = program
    .command("namespaces")
    .alias("ns")
    .description("namespaces: where secrets (and applications) live; `default` always exists");
  const globals = () => program.opts<GlobalOptions>();
  const client = () => resolveClient(globals(), process.env);
  const path = (name: string) => `/namespaces/${encodeURIComponent(name)}`;

  namespaces
    .command("create <name>")
    .description("create a namespace (admin)")
    .option("--description <text>")
    .action(async (name: string, o: { description?: string }) => {
      const ns = await client().request<NamespaceView>("POST", "/namespaces", {
        body: { name, description: o.description },
      });
      printObject(outputFormat(globals()), ns);
    });

  namespaces.command("list").action(async () => {
    printRows(outputFormat(globals()), await client().listAll<NamespaceView>("/namespaces"), columns);
  });

  namespaces.command("get <name>").action(async (name: string) => {
    printObject(outputFormat(globals()), await client().request<NamespaceView>("GET", path(name)));
  });

  namespaces
    .command("update <name>")
    .description("change the description or the registry credentials (admin)")
    .option("--description <text>")
    .option("--registry-server <host>", "registry server address for the namespace's images")
    .option("--registry-user <name>", "registry user name")
    .option("--registry-secret <secret>", "an Environment secret of the namespace holding the password")
    .option("--clear-registry", "remove the registry credentials")
    .action(async (name: string, o: RegistryFlags & { description?: string }) => {
      const config = registryConfig(o);
      const ns = await client().request<NamespaceView>("PATCH", path(name), {
        body: { description: o.description, ...(config ? { config } : {}) },
      });
      printObject(outputFormat(globals()), ns);
    });

  namespaces
    .command("delete <name>")
    .description("delete a namespace and every secret (and application) in it (admin)")
    .option("--wait", "return once it is gone")
    .action(async (name: string, o: { wait?: boolean }) => {
      const ns = await client().request<NamespaceView>("DELETE", path(name));
      if (!o.wait) {
        process.stdout.write(`namespace ${name} is being deleted (${ns.secretCount} secret(s) in it)\n`);
        return;
      }
      for (;;) {
        const gone = await client()
          .request<NamespaceView>("GET", path(name))
          .then(() => false)
          .catch((err: { status?: number }) => {
            if (err.status === 404) return true;
            throw err;
          });
        if (gone) break;
        await new Promise((r) => setTimeout(r, 1000));
      }
      process.stdout.write(`namespace ${name} deleted\n`);
    });
}
