import type {
  LabConfigView,
  LabQuotaView,
  PutLabConfigRequest,
  SetLabQuotaRequest,
} from "../../contracts/labs.ts";
import { BerthError, conflict, ErrorCode, invalidRequest } from "../../domain/errors.ts";
import {
  isReservedLabEnv,
  type LabConfig,
  type LabQuotaOverride,
  labQuotaOf,
  type StoredLabConfig,
} from "../../domain/lab.ts";
import { ENV_NAME } from "../../domain/labels.ts";
import { DEFAULT_NAMESPACE } from "../../domain/namespace.ts";
import type { Clock } from "../../ports/clock.ts";
import type { Repositories } from "../../ports/repositories.ts";

export interface LabDeps {
  repos: Repositories;
  clock: Clock;
}

const bad = (path: string, message: string) => invalidRequest(message, [{ path, message }]);

export const notConfigured = () =>
  new BerthError(
    ErrorCode.NotConfigured,
    "labs are not set up in this workspace: an admin sets them with PUT /api/v1/labs/config (berth labs config set -f FILE)",
  );

const viewOf = ({ revision, updatedAt, ...config }: StoredLabConfig): LabConfigView => ({
  ...config,
  revision,
  updatedAt,
});

/** `GET /api/v1/labs/config`: 404 NotConfigured until an admin has written one. */
export async function getLabConfig(deps: LabDeps, ws: string): Promise<LabConfigView> {
  const config = await deps.repos.labs.config(ws);
  if (!config) throw notConfigured();
  return viewOf(config);
}

/**
 * `PUT /api/v1/labs/config` (specs/labs.md §2): the whole config, checked against the workspace (sizes are
 * resource profiles, secrets exist as Environment secrets) and the reserved variables; written if the stored
 * one is still at `expectedRevision` (when given) or at the revision read.
 */
export async function putLabConfig(
  deps: LabDeps,
  ws: string,
  input: PutLabConfigRequest,
): Promise<LabConfigView> {
  const { expectedRevision, ...config } = input;
  await checkConfig(deps, ws, config);
  const current = await deps.repos.labs.config(ws);
  if (expectedRevision !== undefined && current?.revision !== expectedRevision)
    throw conflict(
      `the lab config is at revision ${current?.revision ?? "none"}, not ${expectedRevision}: read it again`,
    );
  const next: StoredLabConfig = {
    ...config,
    revision: (current?.revision ?? 0) + 1,
    updatedAt: deps.clock.now().toISOString(),
  };
  if (!(await deps.repos.labs.putConfig(ws, next, current?.revision)))
    throw conflict("the lab config was changed meanwhile: read it again and retry");
  return viewOf(next);
}

async function checkConfig(deps: LabDeps, ws: string, config: LabConfig): Promise<void> {
  if (config.runtime === "process" && !config.command)
    throw bad("command", "a process lab needs a command to run (it listens on $BERTH_LAB_PORT)");
  const fs = config.fileserver;
  if (fs.enabled && (config.runtime === "process" ? !fs.command : !fs.image))
    throw bad(
      config.runtime === "process" ? "fileserver.command" : "fileserver.image",
      config.runtime === "process"
        ? "an enabled file server of a process lab config needs a command"
        : "an enabled file server needs an image",
    );
  const seen = new Set<string>();
  for (const [i, size] of config.sizes.entries()) {
    if (seen.has(size.toLowerCase())) throw bad(`sizes.${i}`, `size ${size} is listed twice`);
    seen.add(size.toLowerCase());
    if (!(await deps.repos.profiles.get(ws, size)))
      throw bad(
        `sizes.${i}`,
        `size ${size} is not a resource profile of this workspace (berth profiles create ${size} ...)`,
      );
  }
  if (!config.sizes.some((s) => s.toLowerCase() === config.defaultSize.toLowerCase()))
    throw bad(
      "defaultSize",
      `defaultSize ${config.defaultSize} is not one of the sizes (${config.sizes.join(", ")})`,
    );
  for (const name of Object.keys(config.env)) {
    if (!ENV_NAME.test(name)) throw bad(`env.${name}`, `env ${name}: must match [A-Za-z_][A-Za-z0-9_]*`);
    if (isReservedLabEnv(name))
      throw bad(
        `env.${name}`,
        `env ${name} is set by Berth for every lab (reserved: JUPYTERHUB_*, BERTH_* and Nublado's lab variables)`,
      );
  }
  for (const [i, s] of config.secrets.entries()) {
    if (!ENV_NAME.test(s.env) || isReservedLabEnv(s.env))
      throw bad(`secrets.${i}.env`, `secret ${s.name}: ${s.env} is not a variable a lab may be given`);
    const secret = await deps.repos.secrets.get(ws, DEFAULT_NAMESPACE, s.name);
    if (!secret)
      throw bad(`secrets.${i}.name`, `secret ${s.name} not found in namespace ${DEFAULT_NAMESPACE}`);
    if (secret.type !== "Environment")
      throw bad(
        `secrets.${i}.name`,
        `secret ${s.name} is a File secret; a lab's secrets are Environment secrets`,
      );
  }
  // The recommended image may be in the menu too (that is where it gets its name); nothing twice.
  const refs = config.images.menu.map((m) => m.reference);
  const dup = refs.find((r, i) => refs.indexOf(r) !== i);
  if (dup) throw bad("images.menu", `image ${dup} is in the menu twice`);
}

/** A user's lab quota: the default, their override, and what applies. */
export async function getLabQuota(deps: LabDeps, ws: string, user: string): Promise<LabQuotaView> {
  const config = await deps.repos.labs.config(ws);
  if (!config) throw notConfigured();
  const override = (await deps.repos.labs.quota(ws, user)) ?? {};
  return { user, quota: labQuotaOf(config, override), override };
}

/** `PUT /api/v1/labs/quotas/{user}`: the fields given override the default; `null` takes one back. */
export async function setLabQuota(
  deps: LabDeps,
  ws: string,
  user: string,
  input: SetLabQuotaRequest,
): Promise<LabQuotaView> {
  const config = await deps.repos.labs.config(ws);
  if (!config) throw notConfigured();
  const next: LabQuotaOverride = { ...((await deps.repos.labs.quota(ws, user)) ?? {}) };
  for (const [k, v] of Object.entries(input) as [
    keyof LabQuotaOverride,
    number | boolean | null | undefined,
  ][]) {
    if (v === undefined) continue;
    if (v === null) delete next[k];
    else (next as Record<string, number | boolean>)[k] = v;
  }
  await deps.repos.labs.putQuota(ws, user, next);
  return { user, quota: labQuotaOf(config, next), override: next };
}
