import { spawn } from "node:child_process";
import { createServer } from "node:net";
import type { Runner } from "../nvidia-smi.ts";

/**
 * A lab's workload on the agent's side (specs/labs.md §5): the image pulled with its progress reported, the
 * host port found (Docker's choice, or one picked for a process), and the readiness probe.
 */

/** How often a pulling lab reports its progress, at most. */
export const PULL_REPORT_MS = 2000;
/** How often the readiness probe asks. */
export const PROBE_EVERY_MS = 2000;

/**
 * Follows `docker pull` output (one line per layer event when not on a terminal) and says how far it got:
 * layers seen and layers done ("Pull complete", "Already exists").
 */
export class PullProgress {
  readonly #layers = new Map<string, boolean>();
  #status?: string;

  /** Takes one line; true when what it says changed. */
  line(text: string): boolean {
    const m = /^([0-9a-f]{6,64}): (.+)$/.exec(text.trim());
    if (!m) {
      if (text.startsWith("Status: ")) this.#status = text.slice(8).trim();
      return false;
    }
    const [, layer, what] = m;
    const done = /^(Pull complete|Already exists)/.test(what!);
    const before = this.#layers.get(layer!);
    if (before === done || (before === true && !done)) return false;
    this.#layers.set(layer!, done);
    return true;
  }

  get done(): number {
    return [...this.#layers.values()].filter(Boolean).length;
  }
  get total(): number {
    return this.#layers.size;
  }
  get status(): string | undefined {
    return this.#status;
  }
  message(image: string): string {
    return `Pulling ${image}: ${this.done} of ${this.total} layers done`;
  }
}

/** `docker pull` with `onProgress(message)` on each layer event, at most every PULL_REPORT_MS (and at the end). */
export function pullWithProgress(
  image: string,
  onProgress: (message: string) => void,
  opts: { timeoutMs?: number; docker?: string } = {},
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(opts.docker ?? "docker", ["pull", image], { stdio: ["ignore", "pipe", "pipe"] });
    // Layers the engine has already are not listed: a pull of only those says nothing more than this.
    onProgress(`Pulling ${image}`);
    const progress = new PullProgress();
    let last = 0;
    let pending = false;
    let stderr = "";
    let buffer = "";
    const report = (force: boolean) => {
      if (!pending) return;
      if (!force && Date.now() - last < PULL_REPORT_MS) return;
      last = Date.now();
      pending = false;
      onProgress(progress.message(image));
    };
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      buffer += chunk;
      let nl = buffer.indexOf("\n");
      while (nl >= 0) {
        if (progress.line(buffer.slice(0, nl))) pending = true;
        buffer = buffer.slice(nl + 1);
        nl = buffer.indexOf("\n");
      }
      report(false);
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      if (stderr.length < 8192) stderr += chunk;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 30 * 60_000);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      report(true);
      if (code === 0) resolve();
      else reject(new Error(stderr.trim().split("\n").at(-1) || `docker pull exited with ${code}`));
    });
  });
}

/** Whether Docker has the image locally. */
export async function hasLocalImage(run: Runner, image: string): Promise<boolean> {
  const res = await run("docker", ["image", "inspect", "--format", "{{.Id}}", image]);
  return res.code === 0;
}

/** The host port Docker published a container port on (`docker port`), or undefined. */
export async function publishedPort(
  run: Runner,
  container: string,
  port: number,
): Promise<number | undefined> {
  const res = await run("docker", ["port", container, `${port}/tcp`]);
  if (res.code !== 0) return undefined;
  // "0.0.0.0:49153" and "[::]:49153", one per line.
  const m = /:(\d+)\s*$/m.exec(res.stdout.trim().split("\n")[0] ?? "");
  return m ? Number(m[1]) : undefined;
}

/** A port free on this machine now, for a process lab to listen on. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "0.0.0.0", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

/** One readiness probe: any answer below 500 on the lab's path. */
export async function answers(port: number, path: string, timeoutSeconds: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
      signal: AbortSignal.timeout(timeoutSeconds * 1000),
      redirect: "manual",
    });
    await res.body?.cancel().catch(() => {});
    return res.status < 500;
  } catch {
    return false;
  }
}
