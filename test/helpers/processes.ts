import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const BERTH_BIN = resolve(import.meta.dirname, "../../bin/berth.mjs");

export const tempDir = (prefix: string) => mkdtemp(join(tmpdir(), `berth-${prefix}-`));

const QUIET_ENV = { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true", NO_COLOR: "1" };

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  stderr(): string;
  stdout(): string;
  /** SIGTERM, then the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** `berth server` as a child process on a free port, with its own data dir. Resolves once it listens and has printed its banner. */
export async function startServerProcess(
  dataDir: string,
  env: Record<string, string> = {},
): Promise<ServerProcess> {
  const child = spawn(
    process.execPath,
    [...(process.env.BERTH_BENCH_NODE_FLAGS?.split(" ").filter(Boolean) ?? []), BERTH_BIN, "server"],
    {
      env: {
        ...process.env,
        ...QUIET_ENV,
        PORT: "0",
        BERTH_DATA_DIR: dataDir,
        BERTH_LOG_LEVEL: "warn",
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  let err = "";
  child.stdout!.on("data", (d: Buffer) => {
    out += d;
  });
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in 60 s:\n${err}`)), 60_000);
    child.stderr!.on("data", (d: Buffer) => {
      err += d;
      const m = /listening on (http:\/\/\S+)/.exec(err);
      // Resolved once the whole banner is out (its last line), so callers can read all of it.
      if (m && /Stop: Ctrl-C/.test(err)) {
        clearTimeout(timer);
        resolveUrl(m[1]!);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${err}`));
    });
  });
  return {
    url,
    child,
    stderr: () => err,
    stdout: () => out,
    async stop(signal = "SIGTERM") {
      if (child.exitCode !== null) return child.exitCode;
      child.kill(signal);
      return exited;
    },
  };
}

/** The admin key `berth server` wrote to its data dir on first start. */
export const adminKeyOf = async (dataDir: string) =>
  (await readFile(join(dataDir, "admin-key"), "utf8")).trim();

/**
 * A JSON client for `/api/v1` with a bearer key: `api<T>(method, path, body?)`. A non-2xx answer throws with
 * its body. The base URL is read on each call (a server restarted on another port).
 */
export function apiClient(baseUrl: () => string, key: () => string) {
  return async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${baseUrl()}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${key()}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
}

/** Starts the `berth` CLI; its output accumulates while it runs. */
export function spawnCli(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [BERTH_BIN, ...args], {
    env: { ...process.env, ...QUIET_ENV, BERTH_CONFIG: "/nonexistent/berth.json", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const out = { stdout: "", stderr: "" };
  child.stdout.on("data", (d: Buffer) => {
    out.stdout += d;
  });
  child.stderr.on("data", (d: Buffer) => {
    out.stderr += d;
  });
  // "close", not "exit": only then has all it wrote through the pipes been read.
  const exited = new Promise<number | null>((r) => child.once("close", (code) => r(code)));
  return { child, exited, stdout: () => out.stdout, stderr: () => out.stderr };
}

/** Runs the `berth` CLI to completion. */
export async function runCli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const cli = spawnCli(args, env);
  const code = await cli.exited;
  return { code, stdout: cli.stdout(), stderr: cli.stderr() };
}

/** Whether a process of this pid exists (signal 0). */
export const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
