import type { KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { openSealed, sealedAad } from "../shared/domain/sealed.ts";
import { ApplyError } from "./runtimes/process.ts";

/** What a reservation carries of its secrets (reservation-data.ts): sealed to this node. */
export interface SealedData {
  secretEnv: Record<string, string>;
  secretFiles: { path: string; mode: number; sealed: string }[];
}

/**
 * Where File secrets are written: memory only (tmpfs), never the agent's data dir (specs/secrets.md §5). The
 * first of /run/berth-agent, $XDG_RUNTIME_DIR/berth-agent, /dev/shm/berth-agent-<uid> that is on a tmpfs;
 * BERTH_AGENT_SECRETS_ROOT names another (it must be on a tmpfs too).
 */
export function secretsRoot(env = process.env): string | undefined {
  const uid = process.getuid?.() ?? 0;
  const candidates = env.BERTH_AGENT_SECRETS_ROOT
    ? [env.BERTH_AGENT_SECRETS_ROOT]
    : [
        uid === 0 ? "/run/berth-agent" : undefined,
        env.XDG_RUNTIME_DIR ? join(env.XDG_RUNTIME_DIR, "berth-agent") : undefined,
        `/dev/shm/berth-agent-${uid}`,
      ];
  return candidates.find((c): c is string => c !== undefined && inMemory(c));
}

/** Whether `path` is (or would be) on a tmpfs or ramfs: the mount with the longest prefix of it. */
function inMemory(path: string): boolean {
  let mounts: string;
  try {
    mounts = readFileSync("/proc/mounts", "utf8");
  } catch {
    return false;
  }
  let best = { at: "", type: "" };
  for (const line of mounts.split("\n")) {
    const [, at, type] = line.split(" ");
    if (!at || !type) continue;
    const mountedAt = at.replace(/\\040/g, " ");
    const covers = mountedAt === "/" || path === mountedAt || path.startsWith(`${mountedAt}/`);
    if (covers && mountedAt.length >= best.at.length) best = { at: mountedAt, type };
  }
  return best.type === "tmpfs" || best.type === "ramfs";
}

/** Every sealed value of a reservation opened with this node's key; an ApplyError naming one that does not open. */
function openAll(key: KeyObject, machineId: string | undefined, reservationId: string, data: SealedData) {
  if (!machineId) throw new ApplyError("cannot open secrets: this agent does not know its machine id");
  const open = (sealed: string, target: string, what: string) => {
    try {
      return openSealed(key, sealed, sealedAad(machineId, reservationId, target));
    } catch {
      throw new ApplyError(`cannot decrypt the secret for ${what} (sealed to another key?)`);
    }
  };
  return {
    env: Object.fromEntries(
      Object.entries(data.secretEnv).map(([name, sealed]) => [
        name,
        open(sealed, `env:${name}`, `env ${name}`).toString("utf8"),
      ]),
    ),
    files: data.secretFiles.map((f) => ({
      path: f.path,
      value: open(f.sealed, `file:${f.path}`, `file ${f.path}`),
    })),
  };
}

const hasSecrets = (data: SealedData) =>
  Object.keys(data.secretEnv).length > 0 || data.secretFiles.length > 0;

/**
 * Opens a reservation's sealed values with this node's key (AAD: this node, this reservation, the target):
 * env values to merge into the program's environment, files written 0400 under a directory of their own on a
 * tmpfs (`dir`, for $BERTH_SECRETS_DIR). Any value that does not open: an ApplyError, and nothing runs.
 */
export async function openSecrets(
  key: KeyObject,
  machineId: string | undefined,
  reservationId: string,
  data: SealedData,
): Promise<{ env: Record<string, string>; dir?: string; values: string[] }> {
  if (!hasSecrets(data)) return { env: {}, values: [] };
  const { env, files } = openAll(key, machineId, reservationId, data);
  const values = [...Object.values(env), ...files.map((f) => f.value.toString("utf8"))];
  if (files.length === 0) return { env, values };
  const root = secretsRoot();
  if (!root)
    throw new ApplyError(
      "File secrets need a tmpfs (/run, $XDG_RUNTIME_DIR or /dev/shm): none here, and they are never written to disk",
    );
  const dir = join(root, "secrets", reservationId);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  for (const f of files) {
    const path = resolve(dir, f.path);
    if (!path.startsWith(`${dir}/`)) throw new ApplyError(`secret file ${f.path} is outside its directory`);
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await writeFile(path, f.value, { mode: 0o400 });
  }
  return { env, dir, values };
}

/** Removes a reservation's secret files (after its workload stopped). */
export async function removeSecrets(reservationId: string): Promise<void> {
  const root = secretsRoot();
  if (root) await rm(join(root, "secrets", reservationId), { recursive: true, force: true });
}

/** The values alone (to mask them in output), opened again from a cached reservation; [] if they do not open. */
export function openedValues(
  key: KeyObject,
  machineId: string | undefined,
  reservationId: string,
  data: SealedData,
): string[] {
  if (!hasSecrets(data)) return [];
  try {
    const { env, files } = openAll(key, machineId, reservationId, data);
    return [...Object.values(env), ...files.map((f) => f.value.toString("utf8"))];
  } catch {
    return [];
  }
}
