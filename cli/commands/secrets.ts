import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import type { SecretReferences, SecretView } from "../../shared/contracts/secrets.ts";
import { type GlobalOptions, outputFormat, resolveClient } from "../context.ts";
import { CliError } from "../errors.ts";
import { ago, type Column, printObject, printRows } from "../output.ts";

const columns: Column<SecretView>[] = [
  { header: "NAME", value: (s) => s.name },
  { header: "TYPE", value: (s) => s.type },
  { header: "VERSION", value: (s) => s.version },
  { header: "FINGERPRINT", value: (s) => s.fingerprint },
  { header: "SIZE", value: (s) => s.sizeBytes },
  { header: "MEMBER JOBS", value: (s) => (s.allowMemberJobs ? "yes" : "no") },
  { header: "UPDATED", value: (s) => ago(s.updatedAt) },
  { header: "DESCRIPTION", value: (s) => s.description || undefined },
];

const referenceColumns: Column<SecretReferences["items"][number]>[] = [
  { header: "KIND", value: (r) => r.kind },
  { header: "NAME", value: (r) => r.name },
  { header: "ID", value: (r) => r.id },
  { header: "STATUS", value: (r) => r.status },
];

interface Source {
  fromStdin?: boolean;
  fromFile?: string;
  fromLiteral?: string;
}

/**
 * The value, as base64 (so any bytes travel): from a file, standard input, a literal (which lands in the shell's
 * history: said so), or, on a terminal, typed without echo.
 */
async function valueFrom(o: Source, required: boolean): Promise<string | undefined> {
  const given = [o.fromStdin, o.fromFile, o.fromLiteral].filter((x) => x !== undefined).length;
  if (given > 1) throw new CliError("give the value one way: --from-file, --from-stdin or --from-literal", 2);
  if (o.fromFile !== undefined) {
    const bytes = await readFile(o.fromFile).catch((err: Error) => {
      throw new CliError(`cannot read ${o.fromFile}: ${err.message}`);
    });
    return bytes.toString("base64");
  }
  if (o.fromLiteral !== undefined) {
    process.stderr.write(
      "berth: --from-literal puts the value in your shell's history; --from-stdin does not\n",
    );
    return Buffer.from(o.fromLiteral, "utf8").toString("base64");
  }
  if (o.fromStdin || (!process.stdin.isTTY && required)) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString("base64");
  }
  if (!required) return undefined;
  return Buffer.from(await promptHidden("value (not shown): "), "utf8").toString("base64");
}

/** Reads a line from the terminal without echoing it. */
async function promptHidden(question: string): Promise<string> {
  const { createInterface } = await import("node:readline");
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  const output = rl as unknown as { _writeToOutput: (s: string) => void };
  process.stderr.write(question);
  output._writeToOutput = () => {};
  const answer = await new Promise<string>((resolve) => rl.question("", resolve));
  rl.close();
  process.stderr.write("\n");
  return answer;
}

/** `berth secrets create|list|get|update|delete`: values are sent once and never shown again. */
export function secretsCommand(program: Command) {
  const secrets = program
    .command("secrets")
    .description("secrets: named values for jobs, write-only (only their fingerprint is ever shown)");
  const globals = () => program.opts<GlobalOptions>();
  const client = () => resolveClient(globals(), process.env);
  const base = (ns: string) => `/namespaces/${encodeURIComponent(ns)}/secrets`;
  const path = (ns: string, name: string) => `${base(ns)}/${encodeURIComponent(name)}`;
  const sources = (cmd: Command) =>
    cmd
      .option("--from-file <path>", "the value is this file's bytes")
      .option("--from-stdin", "the value is standard input")
      .option("--from-literal <value>", "the value itself (it stays in your shell's history)")
      .option("-n, --namespace <ns>", "namespace", "default")
      .option("--description <text>");

  sources(secrets.command("create <name>"))
    .requiredOption("--type <type>", "Environment (for env) or File (for files)")
    .option("--allow-member-jobs", "jobs submitted with member keys may use it")
    .action(
      async (
        name: string,
        o: Source & { type: string; namespace: string; description?: string; allowMemberJobs?: boolean },
      ) => {
        const data = await valueFrom(o, true);
        const created = await client().request<SecretView>("POST", base(o.namespace), {
          body: {
            name,
            type: o.type,
            data,
            encoding: "base64",
            ...(o.description !== undefined ? { description: o.description } : {}),
            allowMemberJobs: o.allowMemberJobs ?? false,
          },
        });
        printObject(outputFormat(globals()), created);
      },
    );
  secrets
    .command("list")
    .option("-n, --namespace <ns>", "namespace", "default")
    .option("--type <type>", "only Environment or File secrets")
    .action(async (o: { namespace: string; type?: string }) => {
      const items = await client().listAll<SecretView>(base(o.namespace), o.type ? { type: o.type } : {});
      printRows(outputFormat(globals()), items, columns);
    });
  secrets
    .command("get <name>")
    .description("metadata and fingerprint (never the value)")
    .option("-n, --namespace <ns>", "namespace", "default")
    .action(async (name: string, o: { namespace: string }) => {
      printObject(
        outputFormat(globals()),
        await client().request<SecretView>("GET", path(o.namespace, name)),
      );
    });
  sources(secrets.command("update <name>"))
    .option("--expected-version <n>", "refuse unless the value is still at this version")
    .option("--allow-member-jobs <yes|no>", "whether jobs of member keys may use it")
    .action(
      async (
        name: string,
        o: Source & {
          namespace: string;
          description?: string;
          expectedVersion?: string;
          allowMemberJobs?: string;
        },
      ) => {
        const data = await valueFrom(o, o.description === undefined && o.allowMemberJobs === undefined);
        if (o.allowMemberJobs !== undefined && !/^(yes|no)$/.test(o.allowMemberJobs))
          throw new CliError("--allow-member-jobs takes yes or no", 2);
        const expected = o.expectedVersion === undefined ? undefined : Number(o.expectedVersion);
        if (expected !== undefined && !(Number.isInteger(expected) && expected >= 1))
          throw new CliError(`--expected-version must be a whole number ≥ 1, not ${o.expectedVersion}`, 2);
        const updated = await client().request<SecretView>("PATCH", path(o.namespace, name), {
          body: {
            ...(data !== undefined ? { data, encoding: "base64" } : {}),
            ...(o.description !== undefined ? { description: o.description } : {}),
            ...(o.allowMemberJobs !== undefined ? { allowMemberJobs: o.allowMemberJobs === "yes" } : {}),
            ...(expected !== undefined ? { expectedVersion: expected } : {}),
          },
        });
        printObject(outputFormat(globals()), updated);
      },
    );
  secrets
    .command("references <name>")
    .description("what names the secret: namespace config, jobs not placed yet (admin)")
    .option("-n, --namespace <ns>", "namespace", "default")
    .action(async (name: string, o: { namespace: string }) => {
      const refs = await client().request<SecretReferences>("GET", `${path(o.namespace, name)}/references`);
      printRows(outputFormat(globals()), refs.items, referenceColumns);
    });
  secrets
    .command("delete <name>")
    .option("-n, --namespace <ns>", "namespace", "default")
    .action(async (name: string, o: { namespace: string }) => {
      await client().request("DELETE", path(o.namespace, name));
      process.stdout.write(`secret ${name} deleted (copies already delivered to nodes are not recalled)\n`);
    });
}
