import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { z } from "zod";
import { ApiClient } from "./client.ts";
import { CliError } from "./errors.ts";

/** Global options every command accepts. */
export interface GlobalOptions {
  endpoint?: string;
  apiKey?: string;
  output?: string;
  dataDir?: string;
}

export const OutputFormat = z.enum(["table", "json"]);
export type OutputFormat = z.infer<typeof OutputFormat>;

const Context = z.object({ endpoint: z.string(), apiKey: z.string().optional() });
export type Context = z.infer<typeof Context>;

/**
 * The CLI's config file: named contexts (`berth login` writes them, `berth context use` picks one) and the
 * current one. The older flat shape `{endpoint, apiKey}` still reads, as the current context.
 */
export const ConfigFile = z.object({
  current: z.string().optional(),
  contexts: z.record(z.string(), Context).default({}),
  endpoint: z.string().optional(),
  apiKey: z.string().optional(),
});
export type ConfigFile = z.infer<typeof ConfigFile>;

export const DEFAULT_ENDPOINT = "http://127.0.0.1:8787";

/** `$BERTH_CONFIG`, else `$XDG_CONFIG_HOME/berth/config.json`, else `~/.config/berth/config.json`. */
export function configFilePath(env: NodeJS.ProcessEnv): string {
  if (env.BERTH_CONFIG) return resolve(env.BERTH_CONFIG);
  return join(env.XDG_CONFIG_HOME || join(homedir(), ".config"), "berth", "config.json");
}

export function readConfigFile(path: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return { contexts: {} };
  }
  try {
    return ConfigFile.parse(JSON.parse(text));
  } catch {
    throw new CliError(
      `config file ${path} is not valid: expected JSON like {"current": "prod", "contexts": {"prod": {"endpoint": "...", "apiKey": "..."}}} (berth login writes it)`,
    );
  }
}

/** The endpoint and key the config file gives: its current context's, else its flat fields. */
function configured(file: ConfigFile): { endpoint?: string; apiKey?: string; context?: string } {
  const current = file.current ? file.contexts[file.current] : undefined;
  if (current) return { ...current, context: file.current };
  return { endpoint: file.endpoint, apiKey: file.apiKey };
}

/** Writes the config file readable by its owner only (it holds API keys). */
export function writeConfigFile(path: string, file: ConfigFile): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}

function readFirstLine(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Where the local server keeps its data (and its admin key): `--data-dir`, `$BERTH_DATA_DIR`, `./.berth`. */
export const dataDirOf = (opts: GlobalOptions, env: NodeJS.ProcessEnv) =>
  resolve(opts.dataDir || env.BERTH_DATA_DIR || ".berth");

/** The first of `[value, where it came from]` that has a value. */
const firstOf = (...options: [string | undefined, string][]) => options.find(([v]) => v);

/**
 * Resolves endpoint and API key: flags, then `BERTH_ENDPOINT` / `BERTH_API_KEY`, then the config file, then
 * the local server's data dir (`<data dir>/endpoint`, which a running `berth server` writes with the URL it
 * listens on, and `<data dir>/admin-key`), then (for the endpoint) the default. The client knows which
 * source each came from, and says so when the key is refused.
 */
export function resolveClient(opts: GlobalOptions, env: NodeJS.ProcessEnv): ApiClient {
  const configPath = configFilePath(env);
  const file = configured(readConfigFile(configPath));
  const fromConfig = file.context ? `context ${file.context} of ${configPath}` : configPath;
  const dataDir = dataDirOf(opts, env);
  const keyFile = join(dataDir, "admin-key");
  const endpointFile = join(dataDir, "endpoint");
  const endpoint = firstOf(
    [opts.endpoint, "--endpoint"],
    [env.BERTH_ENDPOINT, "BERTH_ENDPOINT"],
    [file.endpoint, fromConfig],
    [readFirstLine(endpointFile), endpointFile],
  ) ?? [DEFAULT_ENDPOINT, "the default"];
  const apiKey = firstOf(
    [opts.apiKey, "--api-key"],
    [env.BERTH_API_KEY, "BERTH_API_KEY"],
    [file.apiKey, fromConfig],
    [readFirstLine(keyFile), keyFile],
  );
  if (!apiKey) {
    throw new CliError(
      `no API key: berth login --endpoint URL, pass --api-key, set BERTH_API_KEY, or run where ${keyFile} exists`,
    );
  }
  return new ApiClient(endpoint[0]!, apiKey[0]!, { endpoint: endpoint[1], apiKey: apiKey[1] });
}

export function outputFormat(opts: GlobalOptions): OutputFormat {
  const parsed = OutputFormat.safeParse(opts.output ?? "table");
  if (!parsed.success) throw new CliError(`--output must be "table" or "json", not "${opts.output}"`, 2);
  return parsed.data;
}
