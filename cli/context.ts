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

/**
 * Resolves endpoint and API key: flags, then `BERTH_ENDPOINT` / `BERTH_API_KEY`, then the config file,
 * then (for the key) the local server's `<data dir>/admin-key`.
 */
export function resolveClient(opts: GlobalOptions, env: NodeJS.ProcessEnv): ApiClient {
  const file = readConfigFile(configFilePath(env));
  const endpoint = opts.endpoint || env.BERTH_ENDPOINT || file.endpoint || DEFAULT_ENDPOINT;
  const keyFile = join(dataDirOf(opts, env), "admin-key");
  const apiKey = opts.apiKey || env.BERTH_API_KEY || file.apiKey || readKeyFile(keyFile);
  if (!apiKey) {
    throw new CliError(
      `no API key: pass --api-key, set BERTH_API_KEY, add "apiKey" to ${configFilePath(env)}, or run where ${keyFile} exists`,
    );
  }
  return new ApiClient(endpoint, apiKey);
}

export function outputFormat(opts: GlobalOptions): OutputFormat {
  const parsed = OutputFormat.safeParse(opts.output ?? "table");
  if (!parsed.success) throw new CliError(`--output must be "table" or "json", not "${opts.output}"`, 2);
  return parsed.data;
}
