import type {
  CreateSecretRequest,
  SecretReferences,
  SecretView,
  UpdateSecretRequest,
} from "../../contracts/secrets.ts";
import { usesSecret } from "../../domain/application.ts";
import {
  BerthError,
  conflict,
  ErrorCode,
  invalidRequest,
  keptChanging,
  notFound,
} from "../../domain/errors.ts";
import { DEFAULT_NAMESPACE, type Namespace } from "../../domain/namespace.ts";
import type { UserPrincipal } from "../../domain/principal.ts";
import { MAX_SECRET_BYTES, type Secret, type SecretType } from "../../domain/secret.ts";
import { encrypt, fingerprint, secretAad } from "../../domain/secret-envelope.ts";
import type { Clock } from "../../ports/clock.ts";
import type { SecretKeyring } from "../../ports/keyring.ts";
import type { Page, PageRequest } from "../../ports/pagination.ts";
import type { NamespaceGuard, Repositories } from "../../ports/repositories.ts";
import { createCounted } from "../counted.ts";
import { done, mutate, reread } from "../mutate.ts";
import { activeNamespace, namespaceNamed } from "../namespaces/namespaces.ts";

export type SecretDeps = { repos: Repositories; clock: Clock; secretKeyring: SecretKeyring };

export const secretView = (s: Secret): SecretView => ({
  name: s.name,
  namespace: s.namespace,
  type: s.type,
  description: s.description,
  allowMemberJobs: s.allowMemberJobs,
  version: s.version,
  fingerprint: s.fingerprint,
  sizeBytes: s.sizeBytes,
  createdAt: s.createdAt,
  updatedAt: s.updatedAt,
  createdBy: s.createdBy,
  updatedBy: s.updatedBy,
  ...(s.lastDeliveredAt ? { lastDeliveredAt: s.lastDeliveredAt } : {}),
});

/** The value as bytes: UTF-8 text, or base64 (Synpse sends base64); at most 64 KiB. */
function secretBytes(data: string, encoding: "utf8" | "base64"): Buffer {
  let value: Buffer;
  if (encoding === "base64") {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(data) || data.length % 4 !== 0)
      throw invalidRequest("data is not valid base64", [{ path: "data", message: "not valid base64" }]);
    value = Buffer.from(data, "base64");
  } else value = Buffer.from(data, "utf8");
  if (value.length > MAX_SECRET_BYTES)
    throw invalidRequest(`data is ${value.length} bytes; a secret holds at most ${MAX_SECRET_BYTES}`, [
      { path: "data", message: `at most ${MAX_SECRET_BYTES} bytes` },
    ]);
  return value;
}

/** An Environment secret goes into environments, which cannot carry a NUL byte. */
function checkFits(type: SecretType, value: Buffer): void {
  if (type === "Environment" && value.includes(0))
    throw invalidRequest(
      "an Environment secret cannot hold a NUL byte (no environment can carry one): use a File secret",
      [{ path: "data", message: "holds a NUL byte" }],
    );
}

/** Encrypts `value` as version `version` of the secret, under the workspace's current data key. */
async function sealedAtRest(
  deps: SecretDeps,
  s: Pick<Secret, "workspaceId" | "namespace" | "name">,
  version: number,
  value: Buffer,
) {
  const { keyId, key } = await deps.secretKeyring.current(s.workspaceId);
  return {
    keyId,
    ciphertext: encrypt(key, value, secretAad(s.workspaceId, s.namespace, s.name, version)),
    fingerprint: fingerprint(key, value),
    sizeBytes: value.length,
  };
}

export async function createSecret(
  deps: SecretDeps,
  user: UserPrincipal,
  ns: string,
  input: CreateSecretRequest,
): Promise<SecretView> {
  const value = secretBytes(input.data, input.encoding);
  checkFits(input.type as SecretType, value);
  await activeNamespace(deps, user.workspaceId, ns);
  const now = deps.clock.now().toISOString();
  const place = { workspaceId: user.workspaceId, namespace: ns, name: input.name };
  const secret: Secret = {
    ...place,
    type: input.type as SecretType,
    description: input.description,
    allowMemberJobs: input.allowMemberJobs,
    version: 1,
    revision: 1,
    ...(await sealedAtRest(deps, place, 1, value)),
    createdAt: now,
    updatedAt: now,
    createdBy: user.keyId,
    updatedBy: user.keyId,
  };
  const ws = user.workspaceId;
  // Create vs create, vs the namespace's deletion, vs other creates near the quota: one transaction, so a
  // secret is stored only counted, in a namespace that is not being deleted, under the limit.
  await createCounted(
    deps,
    ws,
    "secrets",
    () => [deps.repos.secrets.create(secret), deps.repos.namespaces.countSecret(ws, ns, 1)],
    async (failed) => {
      if (failed === 0) throw conflict(`secret ${input.name} already exists in namespace ${ns}`);
      await activeNamespace(deps, ws, ns); // deleted or deleting meanwhile
    },
  );
  return secretView(secret);
}

async function found(deps: SecretDeps, ws: string, ns: string, name: string): Promise<Secret> {
  await namespaceNamed(deps, ws, ns);
  const s = await deps.repos.secrets.get(ws, ns, name);
  if (!s) throw notFound(`secret ${name} not found in namespace ${ns}`);
  return s;
}

export const getSecret = async (deps: SecretDeps, ws: string, ns: string, name: string) =>
  secretView(await found(deps, ws, ns, name));

export async function listSecrets(
  deps: SecretDeps,
  ws: string,
  ns: string,
  type: SecretType | undefined,
  page: PageRequest,
): Promise<Page<SecretView>> {
  await namespaceNamed(deps, ws, ns);
  const out = await deps.repos.secrets.list(ws, ns, page, type);
  return { items: out.items.map(secretView), cursor: out.cursor };
}

/**
 * Changes a secret's value, description or member flag. A value equal to the current one (same fingerprint)
 * keeps the version; any other bumps it and is encrypted anew. Two updates at once: the loser decides again on
 * what won (and with `expectedVersion`, is refused).
 */
export async function updateSecret(
  deps: SecretDeps,
  user: UserPrincipal,
  ns: string,
  name: string,
  patch: UpdateSecretRequest,
  /** The value changed (a new version): applications that use it are redeployed. */
  onValueChange?: () => Promise<void>,
): Promise<SecretView> {
  if (patch.type !== undefined)
    throw invalidRequest("secret type cannot be changed", [{ path: "type", message: "cannot be changed" }]);
  const value = patch.data === undefined ? undefined : secretBytes(patch.data, patch.encoding);
  let valueChanged = false;
  const view = await mutate({
    what: `secret ${name}`,
    read: async () => {
      await activeNamespace(deps, user.workspaceId, ns); // no change in a namespace being deleted
      return found(deps, user.workspaceId, ns, name);
    },
    async attempt(current) {
      if (!current) throw notFound(`secret ${name} not found in namespace ${ns}`);
      if (value) checkFits(current.type, value);
      if (patch.expectedVersion !== undefined && patch.expectedVersion !== current.version)
        throw conflict(
          `secret ${name} changed since version ${patch.expectedVersion} (now ${current.version})`,
          { current: current.version },
        );
      const changed =
        value !== undefined &&
        fingerprint((await deps.secretKeyring.current(user.workspaceId)).key, value) !== current.fingerprint;
      const next: Secret = {
        ...current,
        ...(patch.description !== undefined ? { description: patch.description } : {}),
        ...(patch.allowMemberJobs !== undefined ? { allowMemberJobs: patch.allowMemberJobs } : {}),
        ...(changed ? { version: current.version + 1 } : {}),
        revision: current.revision + 1,
        updatedAt: deps.clock.now().toISOString(),
        updatedBy: user.keyId,
      };
      if (changed) Object.assign(next, await sealedAtRest(deps, current, next.version, value));
      const unchanged =
        !changed &&
        next.description === current.description &&
        next.allowMemberJobs === current.allowMemberJobs;
      if (unchanged) return done(secretView(current));
      const saved = await deps.repos.secrets.replace(current, next);
      valueChanged = changed;
      return saved ? done(secretView(saved)) : reread;
    },
  });
  if (valueChanged) await onValueChange?.();
  return view;
}

/**
 * Deletes a secret no namespace config or application names (409 SecretInUse naming the users). Jobs that name it and are
 * not placed yet fail with SecretMissing when they are; copies already delivered are not recalled.
 */
export async function deleteSecret(deps: SecretDeps, ws: string, ns: string, name: string): Promise<void> {
  // Delete vs setting it as the namespace's registry credentials: the delete holds only at the namespace's
  // revision read, and the config change only while the secret exists (updateNamespace); one of them loses.
  await mutate({
    what: `namespace ${ns}`,
    read: () => namespaceNamed(deps, ws, ns),
    async attempt(namespace) {
      const usedBy = [...namespaceUses(namespace!, name), ...(await applicationUses(deps, ws, ns, name))];
      if (usedBy.length > 0)
        throw new BerthError(
          ErrorCode.SecretInUse,
          `secret ${name} is in use by ${usedBy.map((u) => `${u.kind} ${u.name}`).join(", ")}; change ${usedBy.length > 1 ? "them" : "it"} first`,
          { usedBy },
        );
      const out = await removeSecret(deps, ws, ns, name, { revision: namespace!.revision });
      if (out === "gone") throw notFound(`secret ${name} not found in namespace ${ns}`);
      return out === "removed" ? done(undefined) : reread;
    },
  });
}

/** What names a secret: its namespace's config, its applications, and pending jobs (which need it at placement). */
export async function secretReferences(
  deps: SecretDeps,
  ws: string,
  ns: string,
  name: string,
): Promise<SecretReferences> {
  await found(deps, ws, ns, name);
  const namespace = await namespaceNamed(deps, ws, ns);
  const jobs = await deps.repos.jobs.pending(ws, PENDING_SCAN);
  const scanned = jobs.length;
  const pending = jobs.filter((job) =>
    job.secrets.some((ref) => ref.name === name && (ref.namespace ?? DEFAULT_NAMESPACE) === ns),
  );
  return {
    // Only the oldest pending jobs were looked at: say so rather than answer a list that looks whole.
    ...(scanned < PENDING_SCAN ? {} : { truncated: true }),
    items: [
      ...namespaceUses(namespace, name),
      ...(await applicationUses(deps, ws, ns, name)),
      ...pending.map((job) => ({
        kind: "job" as const,
        id: job.id,
        name: job.name || job.id,
        status: job.status,
      })),
    ],
  };
}

/** Pending jobs looked at for references, at most. */
const PENDING_SCAN = 1000;

/** What in a namespace's own config names the secret (its registry credentials). */
export function namespaceUses(ns: Namespace, name: string): SecretUser[] {
  return ns.config.registryAuthentication?.fromSecret === name
    ? [{ kind: "namespace", namespace: ns.name, name: ns.name }]
    : [];
}

export type SecretUser = { kind: "namespace" | "application" | "labConfig"; namespace: string; name: string };

/**
 * The applications of the namespace whose containers use the secret (env `fromSecret`, `secrets`, `auth`). A delete
 * racing an application's create can still pass (both only read): that application's deployments fail until
 * the secret is created again, which redeploys it (specs/secrets.md, races).
 */
export async function applicationUses(
  deps: SecretDeps,
  ws: string,
  ns: string,
  name: string,
): Promise<SecretUser[]> {
  const apps = await deps.repos.applications.ofWorkspace(ws);
  return apps
    .filter((a) => a.namespace === ns && a.status === "active" && usesSecret(a, name))
    .map((a) => ({ kind: "application" as const, namespace: ns, name: a.name }));
}

/**
 * Deletes a secret and uncounts it (namespace and quota), if the namespace still holds to `guard`: "removed",
 * "gone" (there was none), or "changed" (the namespace is not what the caller read: decide again). A count
 * already at zero (a secret stored before counts were kept) is left alone: counts never go below zero.
 */
export async function removeSecret(
  deps: SecretDeps,
  ws: string,
  ns: string,
  name: string,
  guard: NamespaceGuard,
): Promise<"removed" | "gone" | "changed"> {
  let countIn = { namespace: true, quota: true };
  for (let attempt = 0; attempt < 3; attempt++) {
    const committed = await deps.repos.commit([
      deps.repos.secrets.delete(ws, ns, name),
      countIn.namespace
        ? deps.repos.namespaces.countSecret(ws, ns, -1, { ...guard, counted: true })
        : deps.repos.namespaces.check(ws, ns, guard),
      countIn.quota && deps.repos.quotas.giveCount(ws, "secrets"),
    ]);
    if (committed.ok) return "removed";
    if (committed.failed === 0) return "gone";
    if (committed.failed === 2) countIn = { ...countIn, quota: false };
    else {
      const now = await deps.repos.namespaces.get(ws, ns);
      const holds =
        now &&
        (guard.revision === undefined || now.revision === guard.revision) &&
        (guard.deletingId === undefined || (now.status === "deleting" && now.id === guard.deletingId));
      if (!holds) return "changed";
      countIn = { ...countIn, namespace: false }; // it held: the count was zero
    }
  }
  throw keptChanging(`secret ${name}`);
}
