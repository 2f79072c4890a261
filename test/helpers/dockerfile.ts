import { readFileSync } from "node:fs";
import { resolve } from "node:path";

export const REPO_ROOT = resolve(import.meta.dirname, "../..");

export interface Instruction {
  keyword: string;
  args: string;
}

export interface Stage {
  /** The image it starts from (`node:22-bookworm-slim`) and its `AS` name, if any. */
  from: string;
  name?: string;
  instructions: Instruction[];
}

/**
 * The repository's Dockerfile, read into stages of instructions: enough of the syntax for the tests to
 * read what the image runs (continuations, comments, `ENV` pairs, exec-form `CMD`), not a full parser.
 */
export function readDockerfile(path = resolve(REPO_ROOT, "Dockerfile")) {
  const text = readFileSync(path, "utf8");
  const lines = text
    .replace(/\\\r?\n/g, " ")
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
  const stages: Stage[] = [];
  for (const line of lines) {
    const m = /^(\S+)\s+(.*)$/.exec(line);
    if (!m) throw new Error(`Dockerfile: cannot read "${line}"`);
    const keyword = m[1]!.toUpperCase();
    const args = m[2]!.trim();
    if (keyword === "FROM") {
      const from = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!from) throw new Error(`Dockerfile: cannot read FROM ${args}`);
      stages.push({ from: from[1]!, name: from[2], instructions: [] });
      continue;
    }
    const stage = stages.at(-1);
    if (!stage) throw new Error(`Dockerfile: ${keyword} before the first FROM`);
    stage.instructions.push({ keyword, args });
  }
  const final = stages.at(-1);
  if (!final) throw new Error("Dockerfile: no FROM");
  return { text, stages, final };
}

/** A stage's instructions of one kind. */
export const instructionsOf = (stage: Stage, keyword: string) =>
  stage.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);

/** The environment a stage's `ENV` instructions set (`ENV A=1 B="two words"`, or `ENV A 1`). */
export function envOf(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const args of instructionsOf(stage, "ENV")) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(args)) {
      const [key, ...rest] = args.split(/\s+/);
      env[key!] = rest.join(" ");
      continue;
    }
    for (const m of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S*)/g)) {
      const raw = m[2]!;
      env[m[1]!] = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
    }
  }
  return env;
}

/** A stage's last `CMD`, which must be in exec form (a JSON array: no shell between signals and node). */
export function cmdOf(stage: Stage): string[] {
  const cmd = instructionsOf(stage, "CMD").at(-1);
  if (!cmd) throw new Error("Dockerfile: the final stage has no CMD");
  const parsed = JSON.parse(cmd) as unknown;
  if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === "string")) {
    throw new Error(`Dockerfile: CMD is not in exec form: ${cmd}`);
  }
  return parsed;
}

/** What the final stage copies from another stage: `[from path, to path]` (relative to WORKDIR). */
export function copiesFrom(stage: Stage, from: string): { src: string; dest: string }[] {
  return instructionsOf(stage, "COPY")
    .map((args) => new RegExp(`^--from=${from}\\s+(?:--\\S+\\s+)*(\\S+)\\s+(\\S+)$`).exec(args))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ src: m[1]!, dest: m[2]! }));
}
