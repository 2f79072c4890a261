import { type Logger, LogLevel } from "../ports/logger.ts";

/** JSON lines on a stream (stdout by default): the format CloudWatch and `jq` both read. */
export function jsonLogger(
  level: LogLevel = "info",
  write: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
  base: Record<string, unknown> = {},
): Logger {
  const min = LogLevel[level];
  const emit = (lvl: Exclude<LogLevel, "silent">) => (msg: string, fields?: Record<string, unknown>) => {
    if (LogLevel[lvl] < min) return;
    write(JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...base, ...fields }));
  };
  return { debug: emit("debug"), info: emit("info"), warn: emit("warn"), error: emit("error") };
}

/** A value as it reads in a text line: bare when it is one word, else JSON (quoted, escaped). */
const shown = (v: unknown) =>
  typeof v === "string" && /^[^\s"=]+$/.test(v) ? v : typeof v === "number" ? String(v) : JSON.stringify(v);

/**
 * Lines a person reads (a terminal): `12:04:05 warn  lost the control plane  error=ECONNREFUSED retryInMs=800`.
 * Same levels and fields as jsonLogger.
 */
export function textLogger(level: LogLevel, write: (line: string) => void): Logger {
  const min = LogLevel[level];
  const emit = (lvl: Exclude<LogLevel, "silent">) => (msg: string, fields?: Record<string, unknown>) => {
    if (LogLevel[lvl] < min) return;
    const extra = Object.entries(fields ?? {})
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${shown(v)}`)
      .join(" ");
    const time = new Date().toTimeString().slice(0, 8);
    write(`${time} ${lvl.padEnd(5)} ${msg}${extra ? `  ${extra}` : ""}`);
  };
  return { debug: emit("debug"), info: emit("info"), warn: emit("warn"), error: emit("error") };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
