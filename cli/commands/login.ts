import type { Command } from "commander";
import { ApiClient } from "../client.ts";
import {
  configFilePath,
  type GlobalOptions,
  outputFormat,
  readConfigFile,
  resolveClient,
  writeConfigFile,
} from "../context.ts";
import { CliError } from "../errors.ts";
import { printObject, printRows } from "../output.ts";

/** The key from standard input when it is not a terminal (`echo $KEY | berth login ...`): its first line. */
async function keyFromStdin(): Promise<string | undefined> {
  if (process.stdin.isTTY) return undefined;
  let text = "";
  for await (const chunk of process.stdin) text += chunk;
  return text.split("\n")[0]?.trim() || undefined;
}

/** A context's name from its endpoint: its host (`berth.example.com`, `127.0.0.1-8787`). */
const nameOf = (endpoint: string) => new URL(endpoint).host.replace(/[^A-Za-z0-9.-]/g, "-");

/** `berth login`, `berth whoami` and `berth context list|use|delete`: where the CLI talks to, by name. */
export function loginCommand(program: Command) {
  const globals = () => program.opts<GlobalOptions>();

  program
    .command("login")
    .description(
      "check an endpoint and API key (--endpoint URL, and --api-key KEY or the key on standard input, which keeps it out of ps), and save them as a named context, the current one",
    )
    .option("--name <name>", "the context's name (default: the endpoint's host)")
    .action(async (_o: unknown, cmd: Command) => {
      // --endpoint and --api-key are the global options: here they are what to save.
      const o = cmd.optsWithGlobals<{ endpoint?: string; apiKey?: string; name?: string }>();
      if (!o.endpoint)
        throw new CliError("berth login needs --endpoint URL (and the key: --api-key or stdin)", 2);
      let endpoint: string;
      try {
        endpoint = new URL(o.endpoint).origin;
      } catch {
        throw new CliError(`--endpoint ${o.endpoint} is not a URL (like https://berth.example.com)`, 2);
      }
      const apiKey = o.apiKey ?? (await keyFromStdin());
      if (!apiKey) throw new CliError("give the API key with --api-key, or on standard input", 2);
      // Only a key the server accepts is saved: one request any key may make.
      await new ApiClient(endpoint, apiKey, { endpoint: "--endpoint", apiKey: "this login" }).request(
        "GET",
        "/whoami",
      );
      const name = o.name ?? nameOf(endpoint);
      const path = configFilePath(process.env);
      const file = readConfigFile(path);
      file.contexts[name] = { endpoint, apiKey };
      file.current = name;
      delete file.endpoint;
      delete file.apiKey;
      writeConfigFile(path, file);
      process.stdout.write(`logged in to ${endpoint}; context ${name} is current (saved in ${path})\n`);
    });

  program
    .command("whoami")
    .description("the key the CLI uses: its name, role and workspace, the endpoint, and where each came from")
    .action(async (_o, cmd: Command) => {
      const globals = cmd.optsWithGlobals<GlobalOptions>();
      const c = resolveClient(globals, process.env);
      const me = await c.request<{ workspaceId: string; keyId: string; name: string; role: string }>(
        "GET",
        "/whoami",
      );
      printObject(outputFormat(globals), {
        ...me,
        endpoint: c.endpoint,
        ...(c.sources ? { endpointFrom: c.sources.endpoint, keyFrom: c.sources.apiKey } : {}),
      });
    });

  const context = program.command("context").description("the saved contexts: list them, pick one");
  context
    .command("list")
    .description("the saved contexts; * marks the current one")
    .action(() => {
      const file = readConfigFile(configFilePath(process.env));
      const rows = Object.entries(file.contexts).map(([name, c]) => ({ name, endpoint: c.endpoint }));
      printRows(outputFormat(globals()), rows, [
        { header: "CURRENT", value: (r) => (r.name === file.current ? "*" : "") },
        { header: "NAME", value: (r) => r.name },
        { header: "ENDPOINT", value: (r) => r.endpoint },
      ]);
    });
  context
    .command("use <name>")
    .description("make a saved context the current one")
    .action((name: string) => {
      const path = configFilePath(process.env);
      const file = readConfigFile(path);
      if (!file.contexts[name]) {
        const known = Object.keys(file.contexts);
        throw new CliError(
          `no context ${name}${known.length ? `; saved: ${known.join(", ")}` : "; berth login --endpoint URL saves one"}`,
        );
      }
      file.current = name;
      writeConfigFile(path, file);
      process.stdout.write(`context ${name} (${file.contexts[name].endpoint}) is current\n`);
    });
  context
    .command("delete <name>")
    .description("forget a saved context (and its key)")
    .action((name: string) => {
      const path = configFilePath(process.env);
      const file = readConfigFile(path);
      if (!file.contexts[name]) throw new CliError(`no context ${name}`);
      delete file.contexts[name];
      if (file.current === name) delete file.current;
      writeConfigFile(path, file);
      process.stdout.write(`context ${name} deleted\n`);
    });
}
