import type { KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { chown, lstat, mkdir, readdir, realpath, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { openSealed, registryTarget, sealedAad } from "../shared/domain/sealed.ts";
import { ApplyError } from "./runtimes/process.ts";

/** What a reservation carries of its secrets (reservation-data.ts): sealed to this node. */
export interface SealedData {
  secretEnv: Record<string, string>;
  secretFiles: { path: string; mode: number; sealed: string }[];
}

/**
 * Where secrets are written: memory only (tmpfs), never the agent's data dir (specs/secrets.md §5). The first
 * of /run/berth-agent (root), $XDG_RUNTIME_DIR/berth-agent, /dev/shm/berth-agent-<uid> that is on a tmpfs and
 * safe; BERTH_AGENT_SECRETS_ROOT names another (it must be on a tmpfs too). Safe: a directory of this user's
 * own, made here 0700 or found so, not a symlink (/dev/shm is writable by everyone: another user could
 * otherwise have made the directory first, or pointed it at a disk).
 */
export async function secretsRoot(env = process.env): Promise<string | undefined> {
  const uid = process.getuid?.() ?? 0;
  const candidates = env.BERTH_AGENT_SECRETS_ROOT
    ? [env.BERTH_AGENT_SECRETS_ROOT]
    : [
        uid === 0 ? "/run/berth-agent" : undefined,
        env.XDG_RUNTIME_DIR ? join(env.XDG_RUNTIME_DIR, "berth-agent") : undefined,
        `/dev/shm/berth-agent-${uid}`,
      ];
  for (const candidate of candidates) {
    if (!candidate || !inMemory(candidate)) continue;
    await mkdir(candidate, { mode: 0o700 }).catch(() => {}); // there already, or its parent is not
    const st = await lstat(candidate).catch(() => undefined);
    if (!st?.isDirectory() || st.uid !== uid || (st.mode & 0o077) !== 0) continue;
    const real = await realpath(candidate);
    if (inMemory(real)) return real;
  }
  return undefined;
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
 * Where a reservation's values go: a host process, or a container (`user`: its runAsUserId[:gid], if named).
 * An application's program or container has a directory of its own (`subdir`), under the reservation that
 * started it (`under`: a successor that adopted it writes where it was started, which is what it mounts).
 */
export type SecretTarget =
  | { kind: "process"; subdir?: string; under?: string }
  | { kind: "container"; user?: string; subdir?: string; under?: string };

export interface OpenedSecrets {
  /** Process: merged into the program's environment. */
  env: Record<string, string>;
  /** The reservation's directory of File secrets (process: its $BERTH_SECRETS_DIR). */
  dir?: string;
  /** Container: a `--env-file` (0600, on the tmpfs) to delete as soon as `docker run` has read it. */
  envFile?: string;
  /** Container: each File secret, bind-mounted read-only at its path. */
  mounts: { source: string; target: string }[];
  /** Every value, to mask in output. */
  values: string[];
}

/** A reservation's secret files: its own directory, or one per program or container of an application. */
const secretsDir = (base: string, reservationId: string, subdir?: string) =>
  subdir ? join(base, reservationId, subdir) : join(base, reservationId);

/**
 * Whether the secret files of a reservation (or of one of its application's containers) are on the tmpfs:
 * not after a reboot emptied it.
 */
export async function secretFilesThere(reservationId: string, subdir?: string): Promise<boolean> {
  const root = await secretsRoot();
  if (!root) return false;
  return (
    (await lstat(secretsDir(join(root, "secrets"), reservationId, subdir)).catch(() => undefined)) !==
    undefined
  );
}

const noTmpfs = (what: string) =>
  new ApplyError(
    `${what} need a tmpfs (/run, $XDG_RUNTIME_DIR or /dev/shm) with a directory of the agent's own (0700, not a symlink): none here, and secrets are never written to disk`,
  );

/**
 * Opens a reservation's sealed values with this node's key (AAD: this node, this reservation, the target),
 * for where they go (specs/secrets.md §5). A process gets env values merged into its environment and files
 * 0400 under a directory of their own on a tmpfs (`dir`, its $BERTH_SECRETS_DIR). A container gets env values
 * in a 0600 env file on the tmpfs, and files under `dir` to bind-mount read-only at their paths, owned by the
 * container's user when it names one and the agent may give them away (root). Any value that does not open:
 * an ApplyError, and nothing runs. Run again after a reboot emptied the tmpfs, it writes the same files again.
 */
export async function openSecrets(
  key: KeyObject,
  machineId: string | undefined,
  reservationId: string,
  data: SealedData,
  target: SecretTarget = { kind: "process" },
): Promise<OpenedSecrets> {
  if (!hasSecrets(data)) return { env: {}, mounts: [], values: [] };
  const { env, files } = openAll(key, machineId, reservationId, data);
  const values = [...Object.values(env), ...files.map((f) => f.value.toString("utf8"))];
  for (const [name, value] of Object.entries(env))
    if (value.includes("\0"))
      throw new ApplyError(`the secret for env ${name} holds a NUL byte, which no environment can carry`);
  const container = target.kind === "container";
  if (files.length === 0 && !(container && Object.keys(env).length > 0)) return { env, mounts: [], values };
  const root = await secretsRoot();
  if (!root) throw noTmpfs(files.length > 0 ? "File secrets" : "secrets for a container");
  const base = join(root, "secrets");
  const home = target.under ?? reservationId;
  const dir = secretsDir(base, home, target.subdir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const owner = container ? fileOwner(target.user) : undefined;
  const mounts: OpenedSecrets["mounts"] = [];
  for (const f of files) {
    const path = resolve(dir, container ? `.${f.path}` : f.path);
    if (!path.startsWith(`${dir}/`)) throw new ApplyError(`secret file ${f.path} is outside its directory`);
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await rm(path, { force: true }); // written again after a reboot or an agent restart: 0400 refuses a rewrite
    await writeFile(path, f.value, { mode: 0o400 });
    if (owner) await chown(path, owner.uid, owner.gid);
    if (container) mounts.push({ source: path, target: f.path });
  }
  if (!container) return { env, dir: files.length > 0 ? dir : undefined, mounts, values };
  let envFile: string | undefined;
  if (Object.keys(env).length > 0) {
    for (const [name, value] of Object.entries(env))
      if (/[\r\n\0]/.test(value))
        throw new ApplyError(
          `the secret for env ${name} holds a line break, which docker's --env-file cannot carry: use a File secret`,
        );
    envFile = join(base, `${home}${target.subdir ? `.${target.subdir}` : ""}.env`);
    await rm(envFile, { force: true });
    await writeFile(
      envFile,
      Object.entries(env)
        .map(([k, v]) => `${k}=${v}\n`)
        .join(""),
      { mode: 0o600 },
    );
  }
  return { env: {}, dir: files.length > 0 ? dir : undefined, envFile, mounts, values };
}

/**
 * Who gets a container's secret files: the container's numeric user (and group, else the same id), when the
 * agent is root and can give them away. Otherwise the agent keeps them (a container running as another user
 * cannot read them: name that user with runAsUserId, or run the agent as root).
 */
function fileOwner(user: string | undefined): { uid: number; gid: number } | undefined {
  if (!user || process.getuid?.() !== 0) return undefined;
  const [uid, gid] = user.split(":").map(Number);
  if (!Number.isInteger(uid)) return undefined;
  return { uid: uid!, gid: Number.isInteger(gid) ? gid! : uid! };
}

/** Deletes a container's env file (once `docker run` has read it). */
export const removeEnvFile = (path: string | undefined) =>
  path ? rm(path, { force: true }).catch(() => {}) : Promise.resolve();

/**
 * Removes a reservation's secret files (after its workload stopped), with its env files and registry configs
 * (`<id>.env`, `<id>.<container>.env`, `<id>.docker-<container>/`: left behind by an agent cut short).
 */
export async function removeSecrets(reservationId: string): Promise<void> {
  const root = await secretsRoot();
  if (!root) return;
  const base = join(root, "secrets");
  await rm(join(base, reservationId), { recursive: true, force: true });
  const entries = await readdir(base).catch(() => [] as string[]);
  for (const name of entries)
    if (name.startsWith(`${reservationId}.`))
      await rm(join(base, name), { recursive: true, force: true }).catch(() => {});
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

/** An application container's registry credentials, as its reservation carries them (password sealed). */
export type SealedAuth = { serverAddress: string; username: string; password: string }[];

/**
 * A Docker client config directory holding a container's registry credentials (specs/applications.md §4:
 * "`auth` through a per-reservation `DOCKER_CONFIG` in tmpfs"): `config.json` 0600 with one `auths` entry per
 * server, under the tmpfs secrets root, for `docker --config <dir> run` to pull with. Deleted once the run has
 * pulled (removeDockerConfig): Docker's own restarts need no pull. Undefined when there are none.
 */
export async function dockerConfig(
  key: KeyObject,
  machineId: string | undefined,
  reservationId: string,
  container: string,
  auth: SealedAuth | undefined,
): Promise<{ dir: string; values: string[] } | undefined> {
  if (!auth || auth.length === 0) return undefined;
  if (!machineId)
    throw new ApplyError("cannot open registry credentials: this agent does not know its machine id");
  const auths: Record<string, { auth: string }> = {};
  const values: string[] = [];
  for (const a of auth) {
    let password: string;
    try {
      password = openSealed(
        key,
        a.password,
        sealedAad(machineId, reservationId, registryTarget(a.serverAddress)),
      ).toString("utf8");
    } catch {
      throw new ApplyError(
        `cannot decrypt the registry password for ${a.serverAddress} (sealed to another key?)`,
      );
    }
    values.push(password);
    auths[authKey(a.serverAddress)] = { auth: Buffer.from(`${a.username}:${password}`).toString("base64") };
  }
  const root = await secretsRoot();
  if (!root) throw noTmpfs("registry credentials");
  const dir = join(root, "secrets", `${reservationId}.docker-${container}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(join(dir, "config.json"), JSON.stringify({ auths }), { mode: 0o600 });
  return { dir, values };
}

/** Docker Hub's credentials go under the key the docker CLI looks them up by; any other server's as given. */
export const authKey = (serverAddress: string) =>
  /^(https?:\/\/)?(docker\.io|index\.docker\.io|registry-1\.docker\.io)(\/.*)?$/.test(serverAddress)
    ? "https://index.docker.io/v1/"
    : serverAddress;

/** Deletes a registry config directory (once `docker run` has pulled). */
export const removeDockerConfig = (dir: string | undefined) =>
  dir ? rm(dir, { recursive: true, force: true }).catch(() => {}) : Promise.resolve();
