/**
 * The spec strings of jobs.md §5, shared by the API and the CLI (`berth run -v/-p/-e`), with the Posit
 * Launcher's messages. Each parser returns the value or throws SpecError with the exact message.
 */
export class SpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SpecError";
  }
}

export interface HostMount {
  mountPath: string;
  readOnly: boolean;
  mountSource: { type: "host"; source: { path: string } };
}

/** `src[:dst[:ro|rw]]`: a host mount, read-write unless `ro`. */
export function parseMount(input: string): HostMount {
  const parts = input.split(":");
  if (parts.length > 3 || (parts.length === 3 && parts[2] !== "ro" && parts[2] !== "rw")) {
    throw new SpecError(`invalid mount spec: "${input}"`);
  }
  const [src, dst = src, mode = "rw"] = parts as [string, string?, string?];
  if (!src.startsWith("/")) throw new SpecError(`invalid mount path: "${src}"`);
  if (!dst.startsWith("/")) throw new SpecError(`invalid mount path: "${dst}"`);
  return { mountPath: dst, readOnly: mode === "ro", mountSource: { type: "host", source: { path: src } } };
}

export interface ExposedPort {
  targetPort: number;
  publishedPort?: number;
  protocol: string;
}

function port(part: string): number {
  const n = /^[0-9]+$/.test(part) ? Number(part) : Number.NaN;
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new SpecError(`invalid port: "${part}"`);
  return n;
}

/** `port[:target][/protocol]`: the first number is published, kept only when it differs from the target. */
export function parsePort(input: string): ExposedPort {
  const slash = input.indexOf("/");
  const numbers = slash === -1 ? input : input.slice(0, slash);
  const protocol = slash === -1 ? "tcp" : input.slice(slash + 1);
  const parts = numbers.split(":");
  if (parts.length > 2) throw new SpecError(`invalid port spec: "${input}"`);
  const published = port(parts[0]!);
  const target = parts.length === 2 ? port(parts[1]!) : published;
  return { targetPort: target, ...(published !== target ? { publishedPort: published } : {}), protocol };
}

/** `NAME=value`, exactly one `=`; the value may be empty, the name may not. */
export function parseEnv(input: string): { name: string; value: string } {
  const parts = input.split("=");
  if (parts.length !== 2 || parts[0] === "") throw new SpecError(`invalid env spec: "${input}"`);
  return { name: parts[0]!, value: parts[1]! };
}
