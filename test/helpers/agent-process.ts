import { type ChildProcess, spawn } from "node:child_process";
import { resolve } from "node:path";

/** The node agent as GPU machines install it: the one-file bundle (`npm run build`; the test setup builds it). */
export const AGENT_BIN = resolve(import.meta.dirname, "../../dist/berth-agent.mjs");

export interface AgentProcess {
  child: ChildProcess;
  stderr(): string;
  /** Resolves with the exit code once the agent exits. */
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** `berth-agent` (what `berth agent` runs) as a child process (JSON log lines on stderr). */
export function startAgentProcess(
  args: string[],
  env: Record<string, string> = {},
  /** Node's own flags, before the script (as install.sh's unit runs it). */
  nodeFlags: string[] = [],
): AgentProcess {
  return agentProcessOf(
    spawn(process.execPath, [...nodeFlags, AGENT_BIN, "agent", "--log-level", "debug", ...args], {
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true", ...env },
      stdio: ["ignore", "ignore", "pipe"],
    }),
  );
}

/** An agent started some other way (an installed one): its stderr collected, stopped on request. */
export function agentProcessOf(child: ChildProcess): AgentProcess {
  let err = "";
  child.stderr!.on("data", (d: Buffer) => {
    err += d;
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    child,
    stderr: () => err,
    exited,
    async stop(signal = "SIGTERM") {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      return exited;
    },
  };
}
