import { randomBytes } from "node:crypto";
import { SubmitJobRequest } from "../../contracts/jobs.ts";
import type { LabView, SpawnLabRequest } from "../../contracts/labs.ts";
import { type Device, deviceStatus } from "../../domain/device.ts";
import { BerthError, ErrorCode, forbidden, invalidRequest, notFound } from "../../domain/errors.ts";
import { newId } from "../../domain/ids.ts";
import { isFinalJob, type Job, JobStatus, labTokenAad } from "../../domain/job.ts";
import { isReservedLabEnv, type LabConfig, labQuotaOf, type StoredLabConfig } from "../../domain/lab.ts";
import {
  cap,
  isDeleted,
  type LabEvent,
  type LabItem,
  type LabKind,
  type LabStatus,
  labEvents,
  labStatus,
  labWord,
  operationInProgress,
  resolveImage,
} from "../../domain/lab-state.ts";
import { ENV_NAME } from "../../domain/labels.ts";
import { jobNeeds } from "../../domain/placement.ts";
import type { UserPrincipal } from "../../domain/principal.ts";
import type { Profile } from "../../domain/profile.ts";
import { Role } from "../../domain/roles.ts";
import { decrypt, encrypt } from "../../domain/secret-envelope.ts";
import type { Page, PageRequest } from "../../ports/pagination.ts";
import type { JobDeps } from "../deps.ts";
import { removeReservation } from "../feed/reservations.ts";
import { applyControl } from "../jobs/control-job.ts";
import { announce, jobTopic, recordJobEvent } from "../jobs/job-events.ts";
import { finishJob, updateJob } from "../jobs/job-update.ts";
import { buildJob, storeJob } from "../jobs/jobs.ts";
import { notConfigured } from "./config.ts";

/** Labs (specs/labs.md §4–§6, §8): spawn, read, follow, delete, for labs and file servers alike. */

/** Paths under /api/v1/labs that are not a user's lab. */
const LAB_ROUTES = ["config", "quotas", "images", "options", "prepulls"] as const;

export const labTopic = (ws: string, kind: LabKind, user: string) => `lab:${ws}:${kind}:${user}`;

const what = labWord;

const err = (code: ErrorCode, message: string, details?: unknown) => new BerthError(code, message, details);

/** The lab config, enabled (404 NotConfigured otherwise; for file servers, also when they are not enabled). */
export async function enabledConfig(
  deps: JobDeps,
  ws: string,
  kind: LabKind = "lab",
): Promise<StoredLabConfig> {
  const config = await deps.repos.labs.config(ws);
  if (!config?.enabled) throw notConfigured();
  if (kind === "fileserver" && !config.fileserver.enabled)
    throw err(
      ErrorCode.NotConfigured,
      "file servers are not enabled in this workspace: an admin sets fileserver.enabled in the lab config",
    );
  return config;
}

/** A profile's CPUs, memory (GiB) and GPUs, from its limits (cpuCount, memory in MB) and its GPUs. */
export function profileResources(p: Profile): { cpu: number; memoryGiB: number; gpus: number } {
  const { cpus, memoryGiB } = jobNeeds({ resourceLimits: p.limits });
  return { cpu: cpus ?? 0, memoryGiB: memoryGiB ?? 0, gpus: p.gpus?.count ?? 0 };
}

/** The configured size a spawn names, matched case-insensitively (Nublado lowercases it); 400 InvalidLabSize. */
async function sizeOf(deps: JobDeps, ws: string, config: LabConfig, size: string): Promise<Profile> {
  const name = config.sizes.find((s) => s.toLowerCase() === size.toLowerCase());
  const invalid = (why: string) =>
    err(ErrorCode.InvalidLabSize, `${why}; valid sizes: ${config.sizes.join(", ")}`, {
      path: "options.size",
      sizes: config.sizes,
    });
  if (!name) throw invalid(`Invalid lab size ${size}`);
  const profile = await deps.repos.profiles.get(ws, name);
  if (!profile) throw invalid(`Lab size ${name} has no resource profile any more (it was deleted)`);
  return profile;
}

/**
 * `POST /api/v1/labs` (and `/fileservers`): Nublado's checks in its order, each failing with nothing stored,
 * then the lab's item and its job in one transaction with the workspace's quota: two spawns at once make one
 * lab (the other is 409 OperationInProgress).
 */
export async function spawnLab(
  deps: JobDeps,
  user: UserPrincipal,
  input: SpawnLabRequest,
  kind: LabKind = "lab",
): Promise<LabView> {
  const ws = user.workspaceId;
  const config = await enabledConfig(deps, ws, kind);
  if ((LAB_ROUTES as readonly string[]).includes(user.name))
    throw invalidRequest(
      `a key named ${user.name} cannot have a lab: /api/v1/labs/${user.name} is another route; use a key with another name`,
    );
  const quota = labQuotaOf(config, await deps.repos.labs.quota(ws, user.name));
  if (!quota.spawn) throw forbidden("Spawning a notebook is not permitted");
  let reference: string;
  let profile: Profile | undefined;
  let resources = { cpu: 0, memoryGiB: 0, gpus: 0 };
  if (kind === "lab") {
    const image = resolveImage(input.options, config.images);
    if (!image.ok)
      throw image.code === "unknown"
        ? err(ErrorCode.UnknownImage, image.message, { path: image.path })
        : invalidRequest(image.message, [{ path: image.path, message: image.message }]);
    reference = image.reference;
    profile = await sizeOf(deps, ws, config, input.options.size);
    resources = profileResources(profile);
    const over = (["cpu", "memoryGiB", "gpus"] as const).filter((k) => resources[k] > quota[k]);
    if (over.length > 0)
      throw err(
        ErrorCode.InsufficientQuota,
        `Insufficient quota to spawn size ${profile.name}: it takes ${over
          .map(
            (k) => `${resources[k]} ${k === "memoryGiB" ? "GiB of memory" : k === "cpu" ? "CPUs" : "GPUs"}`,
          )
          .join(", ")}; your quota is ${over.map((k) => quota[k]).join(", ")}`,
        { path: "options.size", quota, asked: resources },
      );
  } else reference = config.fileserver.image ?? "(process)";
  for (const name of Object.keys(input.env)) {
    if (!ENV_NAME.test(name) || isReservedLabEnv(name))
      throw invalidRequest(`env ${name} is not a variable a ${what(kind)} may be given`, [
        { path: `env.${name}`, message: "not a valid or allowed variable name" },
      ]);
  }
  for (let attempt = 1; ; attempt++) {
    try {
      return await spawnOnce(deps, user, config, kind, input, reference, profile, resources);
    } catch (e) {
      // The item changed under us and what it is now does not refuse the spawn (a finished lab cleared
      // meanwhile): read it again.
      if (!(e instanceof ItemChanged) || attempt >= 3)
        throw e instanceof ItemChanged
          ? err(
              ErrorCode.OperationInProgress,
              `another operation on the ${what(kind)} of ${user.name} came first`,
            )
          : e;
    }
  }
}

class ItemChanged extends Error {}

async function spawnOnce(
  deps: JobDeps,
  user: UserPrincipal,
  config: StoredLabConfig,
  kind: LabKind,
  input: SpawnLabRequest,
  reference: string,
  profile: Profile | undefined,
  resources: LabItem["resources"],
): Promise<LabView> {
  const ws = user.workspaceId;
  const existing = await deps.repos.labs.get(ws, kind, user.name);
  if (existing) await refuseIfLive(deps, existing);
  const now = deps.clock.now();
  const job = await labJob(deps, user, config, kind, input, reference, profile);
  const item: LabItem = {
    workspaceId: ws,
    user: user.name,
    kind,
    ownerKeyId: user.keyId,
    jobId: job.id,
    operation: "spawn",
    operationId: newId(),
    operationAt: now.toISOString(),
    replaced: existing && !isDeleted(existing, await jobOf(deps, existing)) ? existing.jobId : undefined,
    options: {
      image: reference,
      size: profile?.name ?? "fileserver",
      enableDebug: input.options.enableDebug,
      resetUserEnv: input.options.resetUserEnv,
    },
    resources,
    expiresAt: new Date(now.getTime() + job.maxDuration * 1000).toISOString(),
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
    v: (existing?.v ?? 0) + 1,
  };
  if (kind === "fileserver")
    item.expiresAt = new Date(now.getTime() + config.fileserver.lifetimeSeconds * 1000).toISOString();
  const stored = await storeJob(deps, job, `${what(kind)} of ${user.name}`, {
    writes: [deps.repos.labs.put(item, existing?.v)],
    // Another spawn or a delete came first: what it did is the answer.
    refused: async () => {
      const now = await deps.repos.labs.get(ws, kind, user.name);
      if (now) await refuseIfLive(deps, now);
      throw new ItemChanged();
    },
  });
  announce(deps.feedWatcher, labTopic(ws, kind, user.name));
  return viewOf(deps, user, item, stored, config);
}

async function jobOf(deps: JobDeps, item: LabItem): Promise<Job | undefined> {
  return deps.repos.jobs.get(item.jobId);
}

/** 409 OperationInProgress while a spawn or delete runs, 409 LabExists while the lab lives. */
async function refuseIfLive(deps: JobDeps, item: LabItem): Promise<void> {
  const job = await jobOf(deps, item);
  const op = operationInProgress(item, job);
  if (op)
    throw err(
      ErrorCode.OperationInProgress,
      `a ${op} of the ${what(item.kind)} of ${item.user} is in progress: wait for it (berth labs events), or delete it`,
      { operation: op },
    );
  const status = labStatus(item, job);
  if (!isDeleted(item, job) && status !== "failed" && status !== "terminated")
    throw err(
      ErrorCode.LabExists,
      `${item.user} already has a ${what(item.kind)} (${status}); one per user: delete it first`,
      { status },
    );
}

/** The job that runs a lab: its image, size, queues, port, environment, token; `tags: ["lab"]`. */
async function labJob(
  deps: JobDeps,
  user: UserPrincipal,
  config: LabConfig,
  kind: LabKind,
  input: SpawnLabRequest,
  reference: string,
  profile: Profile | undefined,
): Promise<Job> {
  const fs = config.fileserver;
  const port = kind === "fileserver" ? fs.port : config.port;
  const container = config.runtime === "container";
  const command = kind === "fileserver" ? fs.command : config.command;
  const resources = profile ? profileResources(profile) : undefined;
  const env: Record<string, string> = {
    ...config.env,
    ...input.env,
    BERTH_LAB_USER: user.name,
    JUPYTER_IMAGE: reference,
  };
  if (profile && resources) {
    env.CONTAINER_SIZE = profile.name;
    env.IMAGE_DESCRIPTION =
      [...config.images.menu, ...config.images.dropdown].find((m) => m.reference === reference)?.name ??
      reference;
    if (resources.cpu) env.CPU_LIMIT = String(resources.cpu);
    if (resources.memoryGiB) env.MEM_LIMIT = String(Math.round(resources.memoryGiB * 2 ** 30));
  }
  if (input.options.enableDebug) env.DEBUG = "1";
  if (input.options.resetUserEnv) env.RESET_USER_ENV = "1";
  const request = SubmitJobRequest.parse({
    name: kind === "fileserver" ? "berth-fileserver" : "berth-lab",
    ...(container ? { container: { image: reference } } : {}),
    // Without a command a container runs its image's own (set below, after the request's checks).
    command: command ?? "true",
    resourceProfile: profile?.name ?? "custom",
    queues: kind === "fileserver" && fs.queues.length ? fs.queues : config.queues,
    placementConstraints: kind === "fileserver" ? [] : config.placementConstraints,
    exposedPorts: container ? [{ targetPort: port, protocol: "tcp" }] : [],
    ...(kind === "fileserver" && container
      ? {
          mounts: fs.volumeMounts.map((m) => ({
            mountPath: m.target,
            mountSource: { type: "host", source: { path: m.source } },
          })),
        }
      : {}),
    maxDuration: kind === "fileserver" ? 7 * 86400 : config.maxDurationSeconds,
    target: "fleet",
    environment: Object.entries(env).map(([name, value]) => ({ name, value })),
    secrets: kind === "lab" ? config.secrets.map((s) => ({ name: s.name, env: s.env })) : [],
    tags: [kind],
    gpus: { count: resources?.gpus ?? 0 },
  });
  const job = await buildJob(deps, user, request);
  if (!command) job.command = undefined;
  const token = randomBytes(32).toString("base64url");
  const { keyId, key } = await deps.secretKeyring.current(user.workspaceId);
  job.lab = {
    kind,
    user: user.name,
    port,
    readinessPath: kind === "fileserver" ? "/" : config.readiness.path,
    readinessTimeoutSeconds: config.readiness.timeoutSeconds,
    spawnTimeoutSeconds: config.spawnTimeoutSeconds,
    graceSeconds: config.stopGracePeriodSeconds,
    token: {
      keyId,
      ciphertext: encrypt(key, Buffer.from(token), labTokenAad(user.workspaceId, job.id)),
    },
  };
  return job;
}

/** A user's own lab, or (admin) anyone's; another user's is 404, as is a lab whose delete is over. */
async function visibleLab(
  deps: JobDeps,
  user: UserPrincipal,
  kind: LabKind,
  target: string,
  /** A finished delete too (its events are read until the item is cleared). */
  deleted = false,
): Promise<{ item: LabItem; job: Job | undefined }> {
  const missing = () => notFound(`${target} has no ${what(kind)}`);
  if (user.role !== Role.admin && user.name !== target) throw missing();
  const item = await deps.repos.labs.get(user.workspaceId, kind, target);
  if (!item) throw missing();
  const job = await jobOf(deps, item);
  if (isDeleted(item, job) && !deleted) {
    await deps.repos.labs.remove(item);
    throw missing();
  }
  return { item, job };
}

/** `GET /api/v1/labs/{user}`: Nublado's `LabState`; the URL (with its token) for its owner only. */
export async function getLab(deps: JobDeps, user: UserPrincipal, target: string, kind: LabKind = "lab") {
  const { item, job } = await visibleLab(deps, user, kind, target);
  return viewOf(deps, user, item, job, await deps.repos.labs.config(user.workspaceId));
}

async function viewOf(
  deps: JobDeps,
  user: UserPrincipal,
  item: LabItem,
  job: Job | undefined,
  config: LabConfig | undefined,
): Promise<LabView> {
  const status = labStatus(item, job);
  const r = { cpu: item.resources.cpu, memory: Math.round(item.resources.memoryGiB * 2 ** 30) };
  const view: LabView = {
    user: { username: item.user },
    kind: item.kind,
    options: item.options,
    status,
    ...(operationInProgress(item, job) ? { operation: operationInProgress(item, job) } : {}),
    resources: { limits: r, requests: r },
    jobId: item.jobId,
    ...(job?.deviceId ? { deviceId: job.deviceId } : {}),
    ...(job?.lab?.hostPort ? { hostPort: job.lab.hostPort } : {}),
    expiresAt: item.expiresAt,
    createdAt: item.createdAt,
  };
  if (item.kind === "lab" && config) {
    const q = labQuotaOf(config, await deps.repos.labs.quota(item.workspaceId, item.user));
    view.quota = { cpu: q.cpu, memory: Math.round(q.memoryGiB * 2 ** 30), gpus: q.gpus };
  }
  const live = status === "pending" || status === "running";
  if (live && user.name === item.user && job?.lab?.hostPort && job.deviceId) {
    const device = await deps.repos.devices.get(job.deviceId);
    const address = device && addressOf(device, config);
    if (address) {
      const key = await deps.secretKeyring.get(item.workspaceId, job.lab.token.keyId);
      const token = decrypt(key, job.lab.token.ciphertext, labTokenAad(item.workspaceId, job.id)).toString();
      view.url = `http://${address}:${job.lab.hostPort}/?token=${token}`;
    }
  }
  return view;
}

const addressOf = (d: Device, config: LabConfig | undefined) =>
  config?.address === "publicIP"
    ? (d.info.publicIP ?? d.info.privateIP)
    : (d.info.privateIP ?? d.info.publicIP);

/** `GET /api/v1/labs` (admin): the workspace's labs, `?status=` one of Nublado's statuses. */
export async function listLabs(
  deps: JobDeps,
  user: UserPrincipal,
  kind: LabKind,
  status: LabStatus | undefined,
  page: PageRequest,
): Promise<Page<LabView>> {
  const config = await deps.repos.labs.config(user.workspaceId);
  const items: LabView[] = [];
  let cursor = page.cursor;
  // Filtered after reading (a status is derived from the job): read on until the page is full.
  for (;;) {
    const got = await deps.repos.labs.list(user.workspaceId, kind, {
      limit: page.limit - items.length,
      cursor,
    });
    for (const item of got.items) {
      const job = await jobOf(deps, item);
      if (isDeleted(item, job)) continue;
      if (status && labStatus(item, job) !== status) continue;
      items.push(await viewOf(deps, user, item, job, config));
    }
    cursor = got.cursor;
    if (!cursor || items.length >= page.limit) return { items, cursor };
  }
}

/**
 * `DELETE /api/v1/labs/{user}` → 202: the item says `delete` (conditionally: a second delete is 409
 * OperationInProgress), then the job is ended: a pending spawn canceled (or killed once placed), a running lab
 * stopped with the config's grace period. The lab is gone once its job has ended.
 */
export async function deleteLab(deps: JobDeps, user: UserPrincipal, target: string, kind: LabKind = "lab") {
  const { item, job } = await visibleLab(deps, user, kind, target);
  if (operationInProgress(item, job) === "delete")
    throw err(ErrorCode.OperationInProgress, `the ${what(kind)} of ${target} is already being deleted`, {
      operation: "delete",
    });
  const now = deps.clock.now().toISOString();
  const next: LabItem = {
    ...item,
    operation: "delete",
    operationId: newId(),
    operationAt: now,
    replaced: undefined,
    updatedAt: now,
    v: item.v + 1,
  };
  const committed = await deps.repos.commit([deps.repos.labs.put(next, item.v)]);
  if (!committed.ok)
    throw err(ErrorCode.OperationInProgress, `the ${what(kind)} of ${target} changed meanwhile: try again`);
  announce(deps.feedWatcher, labTopic(item.workspaceId, kind, target));
  let ended = job ? await endLabJob(deps, job, `the delete of the ${what(kind)} by ${user.name}`) : undefined;
  if (ended && !isFinalJob(ended.status)) ended = await withoutSilentDevice(deps, ended);
  if (!ended || isFinalJob(ended.status)) await deps.repos.labs.remove(next);
  return viewOf(deps, user, next, ended, undefined);
}

/**
 * A lab being deleted on a device that is offline would wait for the device (its stop cannot be delivered)
 * until the job is lost, an hour by default: the job ends now, and its reservation is withdrawn, so the
 * device removes the workload when it is back.
 */
async function withoutSilentDevice(deps: JobDeps, job: Job): Promise<Job> {
  const device = job.deviceId ? await deps.repos.devices.get(job.deviceId) : undefined;
  if (!device || deviceStatus(device.lastSeenAt, deps.clock.now(), deps.config.deviceTtlSeconds) === "online")
    return job;
  const message = `device ${device.name} is offline (last seen ${device.lastSeenAt}): deleted without it; it removes the workload when it is back`;
  const ended = (await finishJob(deps, job.id, { reason: "nodeLost", message })) ?? job;
  const r = job.reservationId ? await deps.repos.reservations.get(device.id, job.reservationId) : undefined;
  if (r) await removeReservation(deps, r, "toDelete");
  return ended;
}

/**
 * Ends a lab's job however it is now: a pending one canceled, a running one stopped (killed with `kill`).
 * Re-read on a race with its start or end.
 */
export async function endLabJob(deps: JobDeps, job: Job, by: string, kill = false): Promise<Job | undefined> {
  let current: Job | undefined = job;
  for (let i = 0; i < 5 && current && !isFinalJob(current.status); i++) {
    try {
      if (current.status === JobStatus.Pending) return await applyControl(deps, current, "cancel", by);
      if (current.controlRequested && !(kill && current.controlRequested === "stop")) return current;
      return await applyControl(deps, current, kill ? "kill" : "stop", by);
    } catch (e) {
      if (!(e instanceof BerthError) || e.code !== ErrorCode.InvalidJobState) throw e;
      current = await deps.repos.jobs.get(job.id);
    }
  }
  return current;
}

/** What an agent reports of a lab's workload (specs/labs.md §5): pulling, its host port, ready. */
export interface LabReport {
  state: "pulling" | "running" | "ready";
  message?: string;
  hostPort?: number;
}

/** An agent's report on a lab's reservation: an event of the job, and the host port and readiness on it. */
export async function labReported(
  deps: JobDeps,
  reservation: { id: string; jobId?: string },
  report: LabReport,
): Promise<void> {
  if (!reservation.jobId) return;
  const job = await deps.repos.jobs.get(reservation.jobId);
  if (!job?.lab || job.reservationId !== reservation.id || isFinalJob(job.status)) return;
  if (report.state === "pulling") {
    await recordJobEvent(deps, job, "pulling", report.message ?? "Pulling the image");
    return;
  }
  const now = deps.clock.now().toISOString();
  const hostPort = report.hostPort ?? job.lab.hostPort;
  const ready = report.state === "ready";
  if (job.lab.hostPort === hostPort && (!ready || job.lab.readyAt)) return; // a repeat
  const updated = await updateJob(deps, job.id, (j) =>
    j.lab && j.reservationId === reservation.id && !isFinalJob(j.status)
      ? { lab: { ...j.lab, hostPort, ...(ready && !j.lab.readyAt ? { readyAt: now } : {}) } }
      : undefined,
  );
  if (!updated?.lab) return;
  if (job.lab.hostPort === undefined && hostPort !== undefined)
    await recordJobEvent(
      deps,
      updated,
      "listening",
      `Waiting for the ${what(job.lab.kind)} to answer on port ${job.lab.port} (host port ${hostPort})`,
    );
  if (ready && !job.lab.readyAt)
    await recordJobEvent(deps, updated, "ready", `answered on host port ${hostPort}`);
  announce(deps.feedWatcher, labTopic(job.workspaceId, job.lab.kind, job.lab.user));
}

/**
 * The sweeper's look at an active lab job: a spawn not ready within `spawnTimeoutSeconds` is failed (an
 * event says why, then the job is killed); a file server past its lifetime is stopped.
 */
export async function sweepLabJob(deps: JobDeps, job: Job): Promise<void> {
  if (!job.lab || isFinalJob(job.status) || job.controlRequested) return;
  const now = deps.clock.now().getTime();
  if (!job.lab.readyAt && now - Date.parse(job.submissionTime) > job.lab.spawnTimeoutSeconds * 1000) {
    await recordJobEvent(
      deps,
      job,
      "timeout",
      `${cap(what(job.lab.kind))} spawn timed out after ${job.lab.spawnTimeoutSeconds} s`,
    );
    await endLabJob(deps, job, "the spawn timeout", true);
    return;
  }
  if (job.lab.kind === "fileserver") {
    const item = await deps.repos.labs.get(job.workspaceId, "fileserver", job.lab.user);
    if (item?.jobId === job.id && now >= Date.parse(item.expiresAt))
      await endLabJob(deps, job, "the end of the file server's lifetime");
  }
}

/** `POST /api/v1/fileservers/{user}/renew`: another lifetime from now. */
export async function renewFileserver(deps: JobDeps, user: UserPrincipal, target: string) {
  const config = await enabledConfig(deps, user.workspaceId, "fileserver");
  const { item, job } = await visibleLab(deps, user, "fileserver", target);
  const status = labStatus(item, job);
  if (status !== "running" && status !== "pending")
    throw err(ErrorCode.Conflict, `the file server of ${target} is ${status}: create another`);
  const now = deps.clock.now();
  const next: LabItem = {
    ...item,
    expiresAt: new Date(now.getTime() + config.fileserver.lifetimeSeconds * 1000).toISOString(),
    updatedAt: now.toISOString(),
    v: item.v + 1,
  };
  const committed = await deps.repos.commit([deps.repos.labs.put(next, item.v)]);
  if (!committed.ok)
    throw err(ErrorCode.Conflict, `the file server of ${target} changed meanwhile: try again`);
  return viewOf(deps, user, next, job, config);
}

/** `POST /api/v1/fileservers`: one's own file server, made, or the running one (idempotent, as Nublado's). */
export async function ensureFileserver(deps: JobDeps, user: UserPrincipal): Promise<LabView> {
  await enabledConfig(deps, user.workspaceId, "fileserver");
  try {
    return await spawnLab(
      deps,
      user,
      { options: { size: "fileserver", enableDebug: false, resetUserEnv: false }, env: {} },
      "fileserver",
    );
  } catch (e) {
    if (
      e instanceof BerthError &&
      (e.code === ErrorCode.LabExists || e.code === ErrorCode.OperationInProgress)
    )
      return getLab(deps, user, user.name, "fileserver");
    throw e;
  }
}

/** One message of a lab's event stream: its place in the operation's events is its id. */
export interface LabEventMessage {
  id: number;
  event: LabEvent;
}

/**
 * `GET /api/v1/labs/{user}/events`: the current operation's events from the start (or after `after`), then
 * each new one, until `complete` or `failed`; 404 NotFound without an operation.
 */
export async function followLabEvents(
  deps: JobDeps,
  user: UserPrincipal,
  target: string,
  kind: LabKind,
  opts: { after?: number; follow: boolean },
  signal: AbortSignal,
): Promise<AsyncGenerator<LabEventMessage>> {
  const first = await visibleLab(deps, user, kind, target, true).catch((e) => {
    throw e instanceof BerthError && e.code === ErrorCode.NotFound
      ? notFound(`${target} has no ${what(kind)} operation to follow`)
      : e;
  });
  return eventsOf(deps, first.item, opts, signal);
}

async function* eventsOf(
  deps: JobDeps,
  first: LabItem,
  opts: { after?: number; follow: boolean },
  signal: AbortSignal,
): AsyncGenerator<LabEventMessage> {
  let sent = opts.after ?? 0;
  const topics = [labTopic(first.workspaceId, first.kind, first.user), jobTopic(first.jobId)];
  let item: LabItem | undefined = first;
  while (!signal.aborted) {
    const marks = topics.map((t) => deps.feedWatcher.mark(t));
    const read = await deps.repos.labs.get(first.workspaceId, first.kind, first.user);
    // Gone (a finished delete was cleared), or a new operation began: this one is over as last read.
    const same = read && read.operationId === first.operationId;
    if (same) item = read;
    const job = await deps.repos.jobs.get(first.jobId);
    const events = labEvents(item!, job, await deps.repos.jobEvents.list(first.jobId));
    const last = events.at(-1)?.type;
    if (!same && last !== "complete" && last !== "failed") {
      const name = `${cap(what(first.kind))} for ${first.user}`;
      events.push(
        ...(item!.operation === "delete"
          ? [
              { type: "info", message: `${name} deleted`, progress: 100 } as const,
              { type: "complete", message: `${name} deleted` } as const,
            ]
          : [
              { type: "error", message: `${name} was deleted before it was ready` } as const,
              { type: "failed", message: `${cap(what(first.kind))} creation failed` } as const,
            ]),
      );
    }
    for (const event of events.slice(sent)) yield { id: ++sent, event };
    const end = events.at(-1)?.type;
    if (end === "complete" || end === "failed" || !same || !opts.follow) return;
    await Promise.race(topics.map((t, i) => deps.feedWatcher.wait(t, marks[i]!, 2000, signal)));
  }
}
