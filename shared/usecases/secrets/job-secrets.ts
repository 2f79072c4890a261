import { posix } from "node:path";
import type { SubmitJobRequest } from "../../contracts/jobs.ts";
import type { Device } from "../../domain/device.ts";
import { BerthError, ErrorCode, forbidden, invalidRequest } from "../../domain/errors.ts";
import { type Job, labTokenAad } from "../../domain/job.ts";
import { ENV_NAME } from "../../domain/labels.ts";
import { DEFAULT_NAMESPACE } from "../../domain/namespace.ts";
import type { UserPrincipal } from "../../domain/principal.ts";
import { MAX_ENV_ENTRY_BYTES } from "../../domain/reservation-data.ts";
import { Role } from "../../domain/roles.ts";
import { seal, sealedAad } from "../../domain/sealed.ts";
import type { Secret } from "../../domain/secret.ts";
import { decrypt, secretAad } from "../../domain/secret-envelope.ts";
import type { SecretDeps } from "./secrets.ts";

/** Paths a container secret may not be written to (Nublado's RESERVED_PATHS, and /). */
const RESERVED = ["/proc", "/sys", "/dev"];
const RESERVED_FILES = ["/etc/passwd", "/etc/group", "/tmp"];

const bad = (i: number, field: string, message: string) =>
  invalidRequest(`secrets[${i}]: ${message}`, [{ path: `secrets.${i}.${field}`, message }]);

/** Where a reference puts its value: `env:NAME` or `file:path`. */
export const secretTarget = (ref: Job["secrets"][number]) =>
  ref.env ? `env:${ref.env}` : `file:${ref.path}`;

/**
 * A job's secret references, checked at submit (specs/secrets.md §4, §7): each names a secret that exists, of
 * the type its use needs, that this key may use; env names clash with nothing; file paths are safe. Throws the
 * spec's 400 / 403; nothing is read but the secrets.
 */
export async function checkJobSecrets(
  deps: SecretDeps,
  user: UserPrincipal,
  input: SubmitJobRequest,
): Promise<void> {
  if (input.secrets.length === 0) return;
  if (input.target === "cloud")
    throw new BerthError(ErrorCode.RequestNotSupported, "secrets are not supported on cloud capacity yet");
  const plain = new Set(input.environment.map((e) => e.name));
  const targets = new Set<string>();
  const files: string[] = [];
  let sealedBytes = 0;
  for (const [i, ref] of input.secrets.entries()) {
    if ((ref.env === undefined) === (ref.path === undefined))
      throw bad(i, "env", "give env (for an Environment secret) or path (for a File secret): one of them");
    if (ref.env !== undefined) {
      if (!ENV_NAME.test(ref.env)) throw bad(i, "env", "must match [A-Za-z_][A-Za-z0-9_]*");
      if (plain.has(ref.env)) throw bad(i, "env", `${ref.env} is set both in environment and from a secret`);
    } else {
      checkPath(i, ref.path!, input.container !== undefined);
      // A file inside a mount would be written into the host's directory (or fail on a read-only one); a
      // mount inside a file's path cannot be made.
      const mount = input.mounts.find((m) => overlap(stripSlashes(m.mountPath), ref.path!));
      if (mount)
        throw bad(
          i,
          "path",
          `${ref.path} overlaps the mount at ${mount.mountPath}; a secret file needs a path outside every mount`,
        );
    }
    const target = secretTarget(ref);
    if (targets.has(target))
      throw bad(i, ref.env ? "env" : "path", `${target.slice(target.indexOf(":") + 1)} is given twice`);
    const nested = ref.path && files.find((p) => overlap(p, ref.path!));
    if (nested)
      throw bad(i, "path", `${ref.path} and ${nested} overlap: one would be a directory of the other`);
    targets.add(target);
    if (ref.path) files.push(ref.path);
    const ns = ref.namespace ?? DEFAULT_NAMESPACE;
    const secret = await deps.repos.secrets.get(user.workspaceId, ns, ref.name);
    if (!secret) throw bad(i, "name", `secret ${ref.name} not found in namespace ${ns}`);
    if (ref.env !== undefined && secret.type !== "Environment")
      throw bad(i, "env", `secret ${ref.name} is a File secret; use path, not env`);
    if (ref.path !== undefined && secret.type !== "File")
      throw bad(i, "path", `secret ${ref.name} is an Environment secret; use env, not path`);
    if (user.role !== Role.admin && !secret.allowMemberJobs)
      throw forbidden(`secret ${ref.name} may only be used by admin jobs`);
    if (input.container && ref.env !== undefined && secret.sizeBytes > MAX_ENV_ENTRY_BYTES)
      throw bad(
        i,
        "env",
        `secret ${ref.name} is ${secret.sizeBytes} bytes; a container's variable holds at most ${MAX_ENV_ENTRY_BYTES}: use a File secret`,
      );
    // The sealed value, and what names it in the reservation (its target twice, the secret's name).
    sealedBytes += sealedSize(secret.sizeBytes) + 2 * target.length + ref.name.length + ns.length + 64;
  }
  if (sealedBytes > MAX_SEALED_BYTES)
    throw invalidRequest(tooLarge(sealedBytes), [{ path: "secrets", message: "too large together" }]);
}

/** Whether one path is the other or inside it. */
export const overlap = (a: string, b: string) =>
  a === b || b.startsWith(a.endsWith("/") ? a : `${a}/`) || a.startsWith(`${b}/`);
const stripSlashes = (p: string) => p.replace(/\/+$/, "") || "/";

function checkPath(i: number, path: string, container: boolean): void {
  const normal = posix.normalize(path);
  if (normal !== path || path.includes("//") || path.split("/").includes(".."))
    throw bad(i, "path", "must be a normalised path (no '..', no '//')");
  if (path.endsWith("/") && path !== "/") throw bad(i, "path", "must name a file, not end in /");
  if (!container) {
    if (path.startsWith("/"))
      throw bad(i, "path", "must be relative for a process job: it is written under $BERTH_SECRETS_DIR");
    return;
  }
  if (!path.startsWith("/") || path === "/")
    throw bad(i, "path", "must be an absolute path in the container, not /");
  if (RESERVED.some((r) => path === r || path.startsWith(`${r}/`)) || RESERVED_FILES.includes(path))
    throw bad(i, "path", `may not be ${path} (reserved)`);
}

export interface SealedSecrets {
  secretEnv: Record<string, string>;
  secretFiles: { path: string; mode: number; sealed: string }[];
  secretRefs: { name: string; namespace: string; version: number; target: string }[];
}

/** A job's secret values, read (current versions) and decrypted once per placement. */
export interface OpenedSecrets {
  /** Each value with its secret (none for the lab token, which is the job's own). */
  values: { ref: Job["secrets"][number]; secret?: Secret; value: Buffer }[];
}

/**
 * Sealed bytes one reservation may carry (secrets.md §1): its item and its feed entry each hold a copy, and
 * DynamoDB items stop at 400 KB.
 */
export const MAX_SEALED_BYTES = 128 * 1024;

/** A value of `n` bytes once sealed: `bs1.` and base64url of a 32-byte key, a 12-byte nonce, the value and its tag. */
export const sealedSize = (n: number) => 4 + 43 + 1 + 16 + 1 + Math.ceil(((n + 16) * 4) / 3);

const tooLarge = (bytes: number) =>
  `the job's secrets weigh ${Math.ceil(bytes / 1024)} KiB sealed; a job carries at most ${MAX_SEALED_BYTES / 1024} KiB of secrets`;

/**
 * Reads and decrypts the secrets a job uses; `{missing}` names one that is gone (the job fails: SecretMissing),
 * `{tooLarge}` says they grew past what a reservation carries since the job was submitted.
 */
export async function openJobSecrets(
  deps: SecretDeps,
  job: Pick<Job, "workspaceId" | "secrets"> & Partial<Pick<Job, "id" | "lab">>,
): Promise<OpenedSecrets | { missing: string } | { tooLarge: string }> {
  const values: OpenedSecrets["values"] = [];
  if (job.lab && job.id) {
    const key = await deps.secretKeyring.get(job.workspaceId, job.lab.token.keyId);
    values.push({
      ref: { name: "lab-token", env: "BERTH_LAB_TOKEN" },
      value: decrypt(key, job.lab.token.ciphertext, labTokenAad(job.workspaceId, job.id)),
    });
  }
  for (const ref of job.secrets) {
    const ns = ref.namespace ?? DEFAULT_NAMESPACE;
    const secret = await deps.repos.secrets.get(job.workspaceId, ns, ref.name);
    if (!secret) return { missing: ref.name };
    const key = await deps.secretKeyring.get(job.workspaceId, secret.keyId);
    values.push({
      ref,
      secret,
      value: decrypt(key, secret.ciphertext, secretAad(job.workspaceId, ns, ref.name, secret.version)),
    });
  }
  const bytes = values.reduce((sum, v) => sum + sealedSize(v.value.length), 0);
  if (bytes > MAX_SEALED_BYTES) return { tooLarge: tooLarge(bytes) };
  return { values };
}

/**
 * The opened values sealed to `device` for reservation `reservationId` (secrets.md §3): each to the device's
 * key, with AAD binding node, reservation and target.
 */
export function sealFor(
  opened: OpenedSecrets,
  device: Pick<Device, "id" | "encryptionKey">,
  reservationId: string,
): SealedSecrets {
  const out: SealedSecrets = { secretEnv: {}, secretFiles: [], secretRefs: [] };
  for (const { ref, secret, value } of opened.values) {
    const target = secretTarget(ref);
    const sealed = seal(device.encryptionKey!, value, sealedAad(device.id, reservationId, target));
    if (ref.env) out.secretEnv[ref.env] = sealed;
    else out.secretFiles.push({ path: ref.path!, mode: 0o400, sealed });
    if (secret)
      out.secretRefs.push({
        name: secret.name,
        namespace: secret.namespace,
        version: secret.version,
        target,
      });
  }
  return out;
}

/** Once the job is placed: when its secrets were last delivered. */
export async function noteDeliveries(deps: SecretDeps, opened: OpenedSecrets): Promise<void> {
  for (const { secret } of opened.values) if (secret) await noteDelivery(deps, secret);
}

/** Minimum time between two writes of a secret's `lastDeliveredAt`. */
const DELIVERY_NOTE_MS = 60_000;

/**
 * Records when a secret was last sealed into a reservation, at most once a minute (a write per placement would
 * make a busy secret a hot item). Best effort: a concurrent update wins and this one is dropped.
 */
async function noteDelivery(deps: SecretDeps, secret: Secret): Promise<void> {
  const now = deps.clock.now();
  if (secret.lastDeliveredAt && now.getTime() - Date.parse(secret.lastDeliveredAt) < DELIVERY_NOTE_MS) return;
  await deps.repos.secrets
    .replace(secret, { ...secret, lastDeliveredAt: now.toISOString(), revision: secret.revision + 1 })
    .catch(() => undefined);
}
