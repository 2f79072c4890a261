import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { type Command, Option } from "commander";
import { isLocalGpud } from "../../agent/health/gpud.ts";
import { jsonLogger, textLogger } from "../../shared/adapters/logger.ts";
import { LogLevelSetting } from "../../shared/config.ts";
import { CliError } from "../errors.ts";

interface AgentFlags {
  endpoint?: string;
  token?: string;
  tokenFile?: string;
  nodeGroup?: string;
  nodeLabels?: string;
  gpuCount?: string;
  publicIp?: string;
  privateIp?: string;
  agentDataDir?: string;
  runtime: string;
  refreshSessionToken?: boolean;
  stopWorkloadsOnExit?: boolean;
  allowReboot?: boolean;
  rebootCommand?: string;
  health: string;
  expectedGpus?: string;
  expectedNvlinkGpus?: string;
  kmsgPath?: string;
  gpudEndpoint?: string;
  logLevel?: string;
  logFormat?: "text" | "json";
}

/**
 * BERTH_AGENT_ALLOW_REBOOT: on only for true, 1 or yes (Commander takes any value of a flag's variable as
 * on, `false` included: not for a setting that lets the control plane reboot the machine).
 */
export function allowRebootFromEnv(value: string | undefined): boolean {
  if (value === undefined || value === "") return false;
  const v = value.trim().toLowerCase();
  if (["true", "1", "yes"].includes(v)) return true;
  if (["false", "0", "no"].includes(v)) return false;
  throw new CliError(`BERTH_AGENT_ALLOW_REBOOT=${value}: expected true or false`, 2);
}

/** Where the agent keeps its state when --data-dir is not given. */
export const defaultAgentDataDir = () =>
  process.env.BERTH_AGENT_DATA_DIR ||
  (process.getuid?.() === 0 ? "/var/lib/berth-agent" : join(homedir(), ".local", "share", "berth-agent"));

function parseLabels(text: string | undefined): Record<string, string> | undefined {
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (
    typeof parsed !== "object" ||
    parsed === null ||
    Array.isArray(parsed) ||
    Object.values(parsed).some((v) => typeof v !== "string")
  ) {
    throw new CliError(
      `--node-labels must be a JSON object of strings, like '{"gpu":"a100"}' ({} clears them)`,
      2,
    );
  }
  return parsed as Record<string, string>;
}

/** The registration token kept in a file (its first line); a clear exit 2 when it cannot be read. */
function readTokenFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new CliError(
      `--token-file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      2,
    );
  }
  const token = text.split("\n")[0]!.trim();
  if (!token) throw new CliError(`--token-file ${path} is empty`, 2);
  return token;
}

/** `berth agent`: the node agent (composition root of the agent host). */
export function agentCommand(program: Command) {
  program
    .command("agent")
    .description("run the node agent on a GPU machine: register, long-poll for work, run it, report")
    // Each also from the environment, so a unit's EnvironmentFile (install.sh writes /etc/berth/agent.env, 0600)
    // can hold them: a token on the command line shows in `ps`.
    .addOption(
      new Option("--endpoint <url>", "the control plane (needed on first start)").env("BERTH_ENDPOINT"),
    )
    .addOption(new Option("--token <token>", "registration token (needed on first start)").env("BERTH_TOKEN"))
    .option("--token-file <path>", "read the registration token from this file (instead of --token)")
    .addOption(
      new Option("--node-group <group>", "node group to join on first start")
        .env("BERTH_NODE_GROUP")
        .default("default"),
    )
    .addOption(
      new Option(
        "--node-labels <json>",
        'labels, e.g. \'{"gpu":"a100"}\'; {} clears; a change logs in again',
      ).env("BERTH_NODE_LABELS"),
    )
    .option("--gpu-count <n>", "GPUs to report (default: what nvidia-smi finds)")
    .option("--public-ip <ip>", "address to report as public")
    .option("--private-ip <ip>", "address to report as private (default: the first non-internal IPv4)")
    .option(
      "--data-dir <dir>",
      "where the agent keeps its identity, keys and state (env BERTH_AGENT_DATA_DIR)",
    )
    .addOption(
      new Option("--runtime <runtime>", "auto, process or docker").env("BERTH_AGENT_RUNTIME").default("auto"),
    )
    .option("--refresh-session-token", "log in again and get a new session token (the old one stops working)")
    .option(
      "--stop-workloads-on-exit",
      "stop running workloads when the agent stops (default: leave them running)",
    )
    .option(
      "--allow-reboot",
      "reboot the machine when the control plane asks (berth devices reboot; env BERTH_AGENT_ALLOW_REBOOT=true); off by default",
    )
    .addOption(
      new Option("--reboot-command <command>", "how to reboot (default: systemctl reboot, as root)").env(
        "BERTH_AGENT_REBOOT_COMMAND",
      ),
    )
    .addOption(
      new Option(
        "--health <mode>",
        "GPU health from nvidia-smi and the kernel log: on, off, or auto (on with nvidia-smi)",
      )
        .choices(["on", "off", "auto"])
        .env("BERTH_AGENT_HEALTH")
        .default("auto"),
    )
    .option(
      "--expected-gpus <n>",
      "GPUs this machine should have (default: the count at the agent's first start)",
    )
    .option("--expected-nvlink-gpus <n>", "GPUs that must have every NVLink up (default 0: not checked)")
    .addOption(
      new Option("--kmsg-path <path>", "the kernel log to read")
        .env("BERTH_AGENT_KMSG")
        .default("/dev/kmsg")
        .hideHelp(),
    )
    .option("--log-level <level>", "debug, info, warn or error", "info")
    .addOption(
      new Option(
        "--log-format <format>",
        "text (lines to read) or json; default: text on a terminal, else json",
      )
        .choices(["text", "json"])
        .env("BERTH_LOG_FORMAT"),
    )
    .action(async (_o: AgentFlags, cmd: Command) => {
      // --data-dir and --endpoint are also global options; here they mean the agent's own.
      const o = { ...cmd.optsWithGlobals<AgentFlags & { dataDir?: string }>() };
      if (!["auto", "process", "docker"].includes(o.runtime))
        throw new CliError("--runtime must be auto, process or docker", 2);
      const level = LogLevelSetting.safeParse(o.logLevel);
      if (!level.success) throw new CliError("--log-level must be debug, info, warn, error or silent", 2);
      if (o.tokenFile !== undefined) {
        if (cmd.getOptionValueSource("token") === "cli")
          throw new CliError("give the registration token once: --token or --token-file", 2);
        o.token = readTokenFile(o.tokenFile);
      }
      const gpuCount = o.gpuCount === undefined ? undefined : Number(o.gpuCount);
      if (gpuCount !== undefined && !(Number.isInteger(gpuCount) && gpuCount >= 0)) {
        throw new CliError(`--gpu-count must be a whole number ≥ 0, not ${o.gpuCount}`, 2);
      }
      const count = (flag: string, v: string | undefined) => {
        if (v === undefined) return undefined;
        const n = Number(v);
        if (!(Number.isInteger(n) && n >= 0))
          throw new CliError(`${flag} must be a whole number ≥ 0, not ${v}`, 2);
        return n;
      };
      const expectedGpus = count("--expected-gpus", o.expectedGpus);
      if (o.gpudEndpoint !== undefined && !isLocalGpud(o.gpudEndpoint))
        throw new CliError(
          `--gpud-endpoint ${o.gpudEndpoint}: GPUd's local API is https on this machine, e.g. https://localhost:15132`,
          2,
        );
      const expectedNvlinkGpus = count("--expected-nvlink-gpus", o.expectedNvlinkGpus);
      const abort = new AbortController();
      const onSignal = (name: string) => {
        if (abort.signal.aborted) process.exit(130);
        process.stderr.write(
          `${name}: stopping the agent${o.stopWorkloadsOnExit ? " and its workloads" : " (workloads keep running)"}\n`,
        );
        abort.abort();
      };
      process.on("SIGINT", () => onSignal("SIGINT"));
      process.on("SIGTERM", () => onSignal("SIGTERM"));
      const fallback = process.env.BERTH_AGENT_ENDPOINT_FALLBACK_SECONDS;
      if (fallback && !(Number(fallback) > 0))
        throw new CliError(
          `BERTH_AGENT_ENDPOINT_FALLBACK_SECONDS=${fallback}: expected a number of seconds above 0`,
          2,
        );
      const { runAgent } = await import("../../agent/agent.ts");
      const exit = await runAgent(
        {
          endpoint: o.endpoint,
          token: o.token,
          nodeGroup: o.nodeGroup,
          nodeLabels: parseLabels(o.nodeLabels),
          gpuCount,
          publicIP: o.publicIp,
          privateIP: o.privateIp,
          dataDir: resolve(o.dataDir ?? defaultAgentDataDir()),
          runtime: o.runtime as "auto" | "process" | "docker",
          refreshSessionToken: o.refreshSessionToken,
          stopWorkloadsOnExit: o.stopWorkloadsOnExit,
          allowReboot: o.allowReboot === true || allowRebootFromEnv(process.env.BERTH_AGENT_ALLOW_REBOOT),
          ...(o.rebootCommand ? { rebootCommand: o.rebootCommand } : {}),
          ...(fallback ? { endpointFallbackMs: Number(fallback) * 1000 } : {}),
          health: o.health as "on" | "off" | "auto",
          expectedGpus,
          expectedNvlinkGpus,
          kmsgPath: o.kmsgPath,
          ...(o.gpudEndpoint ? { gpudEndpoint: o.gpudEndpoint } : {}),
          // Tests collect health every second instead of every minute.
          ...(process.env.BERTH_AGENT_HEALTH_SECONDS
            ? { healthMs: Number(process.env.BERTH_AGENT_HEALTH_SECONDS) * 1000 }
            : {}),
          log: ((o.logFormat ?? (process.stderr.isTTY ? "text" : "json")) === "text"
            ? textLogger
            : jsonLogger)(level.data, (line) => process.stderr.write(`${line}\n`)),
        },
        abort.signal,
      );
      if (exit.code !== 0) throw new CliError(exit.message, exit.code);
      process.exit(0);
    });
}
