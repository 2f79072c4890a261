import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
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

const ConfigFile = z.object({ endpoint: z.string().optional(), apiKey: z.string().optional() });

export const DEFAULT_ENDPOINT = "http://127.0.0.1:8787";

/** `$BERTH_CONFIG`, else `$XDG_CONFIG_HOME/berth/config.json`, else `~/.config/berth/config.json`. */
export function configFilePath(env: NodeJS.ProcessEnv): string {
  if (env.BERTH_CONFIG) return resolve(env.BERTH_CONFIG);
  return join(env.XDG_CONFIG_HOME || join(homedir(), ".config"), "berth", "config.json");
}

function readConfigFile(path: string): z.infer<typeof ConfigFile> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return {};
  }
  try {
    return ConfigFile.parse(JSON.parse(text));
  } catch {
    throw new CliError(
      `config file ${path} is not valid: expected JSON like {"endpoint": "...", "apiKey": "..."}`,
    );
  }
}

function readKeyFile(path: string): string | undefined {
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
  const file = readConfigFile(configPath);
  const dataDir = dataDirOf(opts, env);
  const keyFile = join(dataDir, "admin-key");
  const endpointFile = join(dataDir, "endpoint");
  const endpoint = firstOf(
    [opts.endpoint, "--endpoint"],
    [env.BERTH_ENDPOINT, "BERTH_ENDPOINT"],
    [file.endpoint, configPath],
    [readKeyFile(endpointFile), endpointFile],
  ) ?? [DEFAULT_ENDPOINT, "the default"];
  const apiKey = firstOf(
    [opts.apiKey, "--api-key"],
    [env.BERTH_API_KEY, "BERTH_API_KEY"],
    [file.apiKey, configPath],
    [readKeyFile(keyFile), keyFile],
  );
  if (!apiKey) {
    throw new CliError(
      `no API key: pass --api-key, set BERTH_API_KEY, add "apiKey" to ${configPath}, or run where ${keyFile} exists`,
    );
  }
  return new ApiClient(endpoint[0]!, apiKey[0]!, { endpoint: endpoint[1], apiKey: apiKey[1] });
}

export function outputFormat(opts: GlobalOptions): OutputFormat {
  const parsed = OutputFormat.safeParse(opts.output ?? "table");
  if (!parsed.success) throw new CliError(`--output must be "table" or "json", not "${opts.output}"`, 2);
  return parsed.data;
}
