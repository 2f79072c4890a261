import { spawn } from "node:child_process";
import { closeSync, constants, openSync, writeFileSync } from "node:fs";
import { access, mkdir, readFile, stat } from "node:fs/promises";
import { delimiter, isAbsolute, join } from "node:path";
import type { ProcessData } from "../../shared/domain/reservation-data.ts";

/**
 * Host processes. Each runs under a small `sh` wrapper in its own process group (so suspend, stop and
 * kill reach all of its children), with stdout and stderr going to files and its exit status written to a
 * file when it ends. None of that depends on the agent: a workload keeps running while the agent
 * restarts, and a restarted agent finds its output and exit status on disk.
 *
 * The wrapper traps TERM with a no-op handler: handlers (unlike ignored signals) are not inherited, so the
 * program gets TERM as usual while the shell survives to record the program's status (143 when it obeyed).
 * SIGKILL takes the shell too; the agent knows it sent it and records 137.
 */
const WRAPPER = [
  "trap 'true' TERM INT HUP",
  'printf "%s" "$$" > "$0/pid"',
  '"$@"',
  "code=$?",
  'printf "%s" "$code" > "$0/exit.tmp" && mv "$0/exit.tmp" "$0/exit"',
].join("\n");

/** The agent's environment that workloads inherit; everything else comes from the reservation. */
const INHERITED_ENV = ["PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "TMPDIR", "SHELL"];

export class ApplyError extends Error {}

export interface StartedProcess {
  pid: number;
  startTicks?: string;
  dir: string;
}

/** argv[0] resolved like a shell would: a path as given, otherwise the first executable on PATH. */
export async function findExecutable(name: string, path: string | undefined): Promise<string | undefined> {
  const candidates = name.includes("/")
    ? [name]
    : (path ?? "")
        .split(delimiter)
        .filter(Boolean)
        .map((d) => join(d, name));
  for (const candidate of candidates) {
    try {
      await access(candidate, constants.X_OK);
      if ((await stat(candidate)).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Linux: the process's start time in clock ticks (field 22 of /proc/<pid>/stat), to tell a reused pid. */
export async function startTicks(pid: number): Promise<string | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

export async function isAlive(pid: number, ticks?: string): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  if (!ticks) return true;
  const now = await startTicks(pid);
  return now === undefined || now === ticks;
}

export async function startProcess(
  id: string,
  data: ProcessData,
  workloadsDir: string,
): Promise<StartedProcess> {
  const env: Record<string, string> = {};
  for (const name of INHERITED_ENV) if (process.env[name] !== undefined) env[name] = process.env[name]!;
  Object.assign(env, data.env, {
    CUDA_VISIBLE_DEVICES: data.gpus.join(","),
    BERTH_RESERVATION_ID: id,
  });
  const program = await findExecutable(data.argv[0]!, env.PATH);
  if (!program) throw new ApplyError(`executable not found: ${data.argv[0]}`);
  const dir = join(workloadsDir, id);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const cwd = data.workingDirectory ?? dir;
  if (!isAbsolute(cwd) || !(await stat(cwd).catch(() => undefined))?.isDirectory()) {
    throw new ApplyError(`working directory does not exist: ${cwd}`);
  }
  let stdin: number | "ignore" = "ignore";
  if (data.stdin !== undefined) {
    writeFileSync(join(dir, "stdin"), data.stdin, { mode: 0o600 });
    stdin = openSync(join(dir, "stdin"), "r");
  }
  const out = openSync(join(dir, "stdout"), "a", 0o600);
  const err = openSync(join(dir, "stderr"), "a", 0o600);
  try {
    const child = spawn("/bin/sh", ["-c", WRAPPER, dir, ...data.argv], {
      cwd,
      env,
      detached: true,
      stdio: [stdin, out, err],
    });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once("spawn", () => resolve(child.pid!));
      child.once("error", (e) => reject(new ApplyError(`could not start: ${e.message}`)));
    });
    child.unref();
    return { pid, startTicks: await startTicks(pid), dir };
  } finally {
    for (const fd of [out, err, ...(typeof stdin === "number" ? [stdin] : [])]) closeSync(fd);
  }
}

/** The exit status the wrapper recorded, if the process has ended. */
export async function exitStatus(dir: string): Promise<number | undefined> {
  try {
    const text = (await readFile(join(dir, "exit"), "utf8")).trim();
    return /^\d+$/.test(text) ? Number(text) : undefined;
  } catch {
    return undefined;
  }
}

/** Sends a signal to the process group; false when it is already gone. */
export function signalGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * SIGTERM to the group, up to `graceSeconds` for it to end, then SIGKILL. Returns the exit status
 * (137 when it had to be killed, or disappeared without one).
 */
export async function stopProcess(
  w: { pid: number; startTicks?: string; dir: string },
  graceSeconds: number,
) {
  const ended = async () =>
    (await exitStatus(w.dir)) ?? (!(await isAlive(w.pid, w.startTicks)) ? 137 : undefined);
  const done = await ended();
  if (done !== undefined) return done;
  signalGroup(w.pid, "SIGCONT"); // a suspended process cannot act on TERM
  signalGroup(w.pid, "SIGTERM");
  const deadline = Date.now() + graceSeconds * 1000;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    const code = await ended();
    if (code !== undefined) return code;
  }
  signalGroup(w.pid, "SIGKILL");
  for (let i = 0; i < 50; i++) {
    const code = await exitStatus(w.dir);
    if (code !== undefined) return code;
    if (!(await isAlive(w.pid, w.startTicks))) return 137;
    await new Promise((r) => setTimeout(r, 100));
  }
  return 137;
}

/** Reads the pid the wrapper recorded (to find a process started just before a crash). */
export async function recordedPid(dir: string): Promise<number | undefined> {
  try {
    const text = (await readFile(join(dir, "pid"), "utf8")).trim();
    return /^\d+$/.test(text) ? Number(text) : undefined;
  } catch {
    return undefined;
  }
}
