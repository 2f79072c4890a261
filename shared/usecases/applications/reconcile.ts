import {
  type AppContainer,
  type Application,
  countsDelta,
  type Deployment,
  deploymentStatus,
  gpusNeeded,
  isReady,
  registryCredentials,
  specHash,
  wants,
} from "../../domain/application.ts";
import { type Device, deviceStatus, scheduling, silentSince } from "../../domain/device.ts";
import { newId } from "../../domain/ids.ts";
import type { Namespace } from "../../domain/namespace.ts";
import { gpuIndices, unhealthyDevice, unhealthyGpus } from "../../domain/placement.ts";
import { isLive } from "../../domain/reservation.ts";
import { type ApplicationData, RESERVATION_DATA } from "../../domain/reservation-data.ts";
import { registryTarget, seal, sealedAad } from "../../domain/sealed.ts";
import type { Write } from "../../ports/repositories/write.ts";
import { newReservation, placeReservation, removeReservation } from "../feed/reservations.ts";
import { noteDeliveries, type OpenedSecrets, openJobSecrets, sealFor } from "../secrets/job-secrets.ts";
import type { ApplicationDeps } from "./applications.ts";

/** An application's reservation lasts the longest a reservation may (365 days) and is renewed before its end. */
export const APPLICATION_DURATION = 365 * 86_400;
/** A successor with the same spec is written when less than this is left. */
export const RENEW_BEFORE_SECONDS = 30 * 86_400;
/** Reservations one pass writes per application, at most: a fleet of 10,000 fans out over several passes. */
export const PER_PASS = 200;

/** `maxUnavailable` as a count of devices: N, or N% of `total` rounded up; at least 1. */
export function unavailableBudget(maxUnavailable: number | string, total: number): number {
  if (typeof maxUnavailable === "number") return Math.max(1, maxUnavailable);
  return Math.max(1, Math.ceil((Number.parseInt(maxUnavailable, 10) / 100) * total));
}

/**
 * Brings an application's deployments to what it wants (applications.md §5): a deployment on every device of
 * its desired set (an offline device's reservation waits in its feed), none elsewhere, each at the current
 * version within the rollout budget, each reservation renewed before it ends. Every step re-reads and writes
 * conditionally, so overlapping passes (a write, a device's change, the sweeper) agree; a deleting application
 * goes once its last deployment has.
 */
export async function reconcileApplication(deps: ApplicationDeps, appId: string): Promise<PassOutcome> {
  const started = Date.now();
  const app = await deps.repos.applications.get(appId);
  if (!app) return "done";
  const [devices, read] = await Promise.all([
    deps.repos.devices.listAll(app.workspaceId),
    deps.repos.deployments.ofApplication(app.id),
  ]);
  const deployments = await markSilent(deps, app, read, devices);
  const desired = new Map(devices.filter((d) => wants(app, d)).map((d) => [d.id, d]));
  const byDevice = new Map(deployments.map((d) => [d.deviceId, d]));
  let written = 0;
  // Read once a pass, by the first deployment written: its registry credentials.
  let ns: Promise<Namespace | undefined> | undefined;
  const pass: Pass = {
    namespace: () => {
      ns ??= deps.repos.namespaces.get(app.workspaceId, app.namespace);
      return ns;
    },
  };
  // Whether a deployment of this pass waits for GPUs or lost a race (the next pass tries again).
  let waiting = false;
  const deploy = async (device: Device, previous?: Deployment) => {
    if (await deployOne(deps, pass, app, device, previous)) waiting = true;
  };

  // Devices that left the set (or an application being deleted): their deployments go.
  for (const d of deployments)
    if (!desired.has(d.deviceId) && d.state !== "deleting") await retire(deps, app, d, devices);

  // Devices that joined: a deployment, then its reservation. A cordoned one takes nothing new (what it runs
  // stays, and is updated): it gets the application once uncordoned.
  for (const device of desired.values()) {
    if (byDevice.has(device.id) || scheduling(device) !== "eligible") continue;
    if (written++ >= PER_PASS) break;
    await deploy(device);
  }

  // Deployments behind the current version, within the budget: those already unavailable first (they cost
  // nothing more), then running ones while fewer than maxUnavailable are not available.
  const current = (d: Deployment) => d.version === app.version && d.configVersion === app.configVersion;
  const live = deployments.filter((d) => desired.has(d.deviceId) && d.state !== "deleting");
  const behind = live
    .filter((d) => !current(d))
    .sort((a, b) => Number(a.state === "running") - Number(b.state === "running"));
  // Running at an older version still serves (a DaemonSet's old pod): what is not running, or not yet for
  // minReadySeconds, is unavailable.
  const passStart = deps.clock.now();
  let unavailable = live.filter((d) => !isReady(app, d, passStart)).length;
  const budget = unavailableBudget(app.rollout.maxUnavailable, desired.size);
  for (const d of behind) {
    if (written >= PER_PASS) break;
    const costs = d.state === "running";
    if (costs && unavailable >= budget) break;
    if (costs) unavailable++;
    written++;
    await deploy(desired.get(d.deviceId)!, d);
  }

  // Waiting for GPUs at the current version: tried again.
  for (const d of live.filter((x) => current(x) && x.waitingFor === "gpus")) {
    if (written >= PER_PASS) break;
    written++;
    await deploy(desired.get(d.deviceId)!, d);
  }

  // Renewal: a successor with the same spec (adopted by the agent without a restart).
  const now = deps.clock.now().getTime();
  for (const d of live.filter((x) => current(x) && !x.waitingFor)) {
    if (written >= PER_PASS) break;
    const expiresAt =
      d.expiresAt ?? (await deps.repos.reservations.get(d.deviceId, d.reservationId))?.expiresAt;
    if (expiresAt && Date.parse(expiresAt) - now < RENEW_BEFORE_SECONDS * 1000) {
      written++;
      await deploy(desired.get(d.deviceId)!, d);
    }
  }

  const gone = app.status === "deleting" ? await finishDelete(deps, app) : false;
  if (app.status !== "deleting") await recount(deps, app);
  // Cut short at PER_PASS: the next pass goes on (at once on a long-running host; else the next sweep).
  if (written >= PER_PASS) await deps.applicationChanged(app.id, "more");
  deps.logger.debug("reconciled an application", {
    applicationId: app.id,
    devices: desired.size,
    written,
    ms: Date.now() - started,
  });
  // Work a next pass has (the queue keeps the application for it): more devices than a pass writes, a
  // rollout under way, deployments waiting for GPUs, a running one on a device gone quiet (unknown soon),
  // a deletion waiting for devices.
  const quiet = (d: Deployment) => {
    const device = desired.get(d.deviceId);
    return d.state === "running" && device !== undefined && !isOnline(deps, device);
  };
  if (written >= PER_PASS) return "cut";
  return (app.status === "deleting" && !gone) ||
    behind.length > 0 ||
    waiting ||
    live.some((d) => quiet(d) || (d.state === "running" && !isReady(app, d, passStart)))
    ? "more"
    : "done";
}

/**
 * What a pass left: nothing (`done`), work for a later pass (`more`: a rollout under way, GPUs awaited, ...),
 * or the rest of what it was writing (`cut` short at PER_PASS: the next pass can go on at once).
 */
export type PassOutcome = "done" | "more" | "cut";

/** Seen within its TTL. */
const isOnline = (deps: ApplicationDeps, device: Device) =>
  deviceStatus(device.lastSeenAt, deps.clock.now(), deps.config.deviceTtlSeconds) === "online";

/** Marks of the queue a sweep takes, at most. */
const QUEUE_TAKE = 500;
/** The sweeper's full pass over every application (which repairs what no event asked for): this often. */
export const FULL_PASS_MS = 10 * 60_000;

/**
 * A pass of a queued application (applications.md §5): its mark is read first, then the pass runs, then the
 * mark is taken off unless another came since (a change during the pass: that one stays for the next) or
 * the pass left work for the next one (each sweep then goes on with it).
 */
export async function reconcileQueued(deps: ApplicationDeps, appId: string): Promise<PassOutcome> {
  const mark = await deps.repos.applications.mark(appId);
  const outcome = await reconcileApplication(deps, appId);
  if (mark && outcome === "done") await deps.repos.applications.clean(appId, mark.n);
  // Work left, and the mark taken meanwhile by another pass that found none: back in the queue.
  if (outcome !== "done" && !mark)
    await deps.repos.applications.markDirty(appId, deps.clock.now().toISOString());
  return outcome;
}

/** How long a pass's lease holds when its holder dies with it (it is given back at the end of a pass). */
export const PASS_LEASE_MS = 30_000;
/** Passes one caller runs back to back for the changes that came during the last, at most. */
const LEASED_ROUNDS = 5;

/**
 * Passes of a queued application where nothing coalesces them in memory (Lambda): one at a time over every
 * instance (a lease), each taking every change marked before it started. A caller that finds the lease held
 * leaves its change to the holder, who gives the lease back and then looks at the queue again: a mark made
 * before that release is seen by the holder, one made after it by a caller whose claim then succeeds.
 */
export async function reconcileLeased(deps: ApplicationDeps, appId: string): Promise<void> {
  const apps = deps.repos.applications;
  for (let round = 0; round < LEASED_ROUNDS; round++) {
    const until = await apps.claimPass(appId, deps.clock.now(), PASS_LEASE_MS);
    if (!until) return;
    let before: { n: number } | undefined;
    let outcome: PassOutcome;
    try {
      before = await apps.mark(appId);
      outcome = await reconcileApplication(deps, appId);
      if (before && outcome === "done") await apps.clean(appId, before.n);
    } finally {
      await apps.releasePass(appId, until);
    }
    // Cut short: the next 200 devices at once. Otherwise again only for a change that came meanwhile.
    if (outcome === "cut") continue;
    const after = await apps.mark(appId);
    if (!after || after.n === before?.n) return;
  }
}

/**
 * The application changed: into the queue first (a pass cut short by a crash or a timeout is then taken up
 * by the sweeper), then a pass now.
 */
export async function reconcileNow(deps: ApplicationDeps, appId: string): Promise<void> {
  await deps.repos.applications.markDirty(appId, deps.clock.now().toISOString());
  await reconcileQueued(deps, appId);
}

/**
 * The sweeper's part (applications.md §5): a pass of each queued application, and every FULL_PASS_MS (once
 * over every process: a lease) a pass of every application, which puts back in the queue those with work left.
 */
export async function sweepApplications(
  deps: ApplicationDeps,
  opts: { fullEveryMs?: number; passBudgetMs?: number } = {},
): Promise<{ queued: number; full: number }> {
  let queued = 0;
  // A pass cut short at PER_PASS goes on at once, while the sweep has time (an application created on
  // thousands of devices fans out in one sweep, not 200 devices a sweep).
  const deadline = Date.now() + (opts.passBudgetMs ?? 20_000);
  for (const { id } of await deps.repos.applications.dirty(QUEUE_TAKE)) {
    try {
      while ((await reconcileQueued(deps, id)) === "cut" && Date.now() < deadline);
      queued++;
    } catch (err) {
      deps.logger.error("reconciling an application failed; the next sweep tries again", {
        applicationId: id,
        error: (err as Error).message,
      });
    }
  }
  const full = (await deps.repos.applications.claimFullPass(
    deps.clock.now(),
    opts.fullEveryMs ?? FULL_PASS_MS,
  ))
    ? await reconcileAll(deps)
    : 0;
  return { queued, full };
}

/**
 * A running deployment whose device has been silent for twice its TTL is `unknown` (applications.md §3)
 * until the device reports again (its agent sends every status after a silence). Silence counts from the
 * control plane's return after an outage of its own, as for jobs. The deployments, with those it changed.
 */
async function markSilent(
  deps: ApplicationDeps,
  app: Application,
  deployments: Deployment[],
  devices: Device[],
): Promise<Deployment[]> {
  const now = deps.clock.now();
  const afterMs = 2 * deps.config.deviceTtlSeconds * 1000;
  const byId = new Map(devices.map((d) => [d.id, d]));
  const silentFor = (d: Deployment, pulseSince?: string) => {
    const device = byId.get(d.deviceId);
    return d.state === "running" && device
      ? now.getTime() - silentSince(device.lastSeenAt, pulseSince) > afterMs
      : false;
  };
  // The pulse is read only when some device is silent by its last contact alone (it can only shorten that).
  if (!deployments.some((d) => silentFor(d))) return deployments;
  const pulse = await deps.repos.devices.lastPulse();
  const out: Deployment[] = [];
  for (const d of deployments) {
    if (!silentFor(d, pulse?.since)) {
      out.push(d);
      continue;
    }
    const next: Deployment = {
      ...d,
      state: "unknown",
      message: `the device has not been seen since ${byId.get(d.deviceId)!.lastSeenAt}`,
      // Kept: what runs there may well run on (it counts as available again only once reported running).
      updatedAt: now.toISOString(),
      v: d.v + 1,
    };
    // Only while the device is as silent as read: one back since (its report may be this very write's
    // rival) keeps what it reported.
    const device = byId.get(d.deviceId)!;
    const ok = (
      await deps.repos.commit(
        withCount(deps, app, d, next, [
          deps.repos.deployments.replace(d, next),
          deps.repos.devices.lastSeen(device.id, device.lastSeenAt),
        ]),
      )
    ).ok;
    // Another write came first (a report, say): this pass goes on with what it read; the next one decides.
    out.push(ok ? next : d);
  }
  return out;
}

/**
 * Counts the deployments again and sets the application's counts when they differ (applications.md §3):
 * a change counted against a version that moved since, or a count lost, is repaired by the next pass.
 */
async function recount(deps: ApplicationDeps, app: Application): Promise<void> {
  const stored = await deps.repos.deployments.counts(app.id);
  const deployments = await deps.repos.deployments.ofApplication(app.id);
  const counted = deploymentStatus(app, deployments, deps.clock.now());
  // Only over the counts it read: a change counted since (after the deployments were read) is not lost.
  if (JSON.stringify(counted) !== JSON.stringify(stored))
    await deps.repos.commit([deps.repos.deployments.recount(app.id, counted, stored)]);
}

/** Deletes a deleting application once no deployment is left, giving back its counts. */
/** Deletes a deleting application once its last deployment is gone: whether it is. */
async function finishDelete(deps: ApplicationDeps, app: Application): Promise<boolean> {
  if ((await deps.repos.deployments.ofApplication(app.id)).length > 0) return false;
  const committed = await deps.repos.commit([
    deps.repos.applications.delete(app),
    deps.repos.namespaces.countApplication(app.workspaceId, app.namespace, -1),
    deps.repos.quotas.giveCount(app.workspaceId, "applications"),
    deps.repos.deployments.dropCounts(app.id),
  ]);
  if (committed.ok) deps.logger.info("application deleted", { applicationId: app.id, name: app.name });
  return committed.ok;
}

/**
 * A deployment leaving its device: its reservation is removed (the agent stops it, then says `deleted`, and
 * the deployment item goes: acknowledged). A device that is gone takes its deployment with it now.
 */
async function retire(
  deps: ApplicationDeps,
  app: Application,
  d: Deployment,
  devices: Device[],
): Promise<void> {
  const now = deps.clock.now().toISOString();
  const gone = !devices.some((x) => x.id === d.deviceId);
  const found = gone ? undefined : await deps.repos.reservations.get(d.deviceId, d.reservationId);
  // A reservation already being removed (or deleted by hand) brings no `deleted` for this deployment.
  const r = found && isLive(found.state) ? found : undefined;
  if (!r) {
    // Its device is gone (and its GPUs with it), or it never had a reservation (waiting for GPUs).
    await deps.repos.commit(
      withCount(deps, app, d, undefined, [
        deps.repos.deployments.delete(d),
        ...(gone ? [] : releaseGpus(deps, d)),
      ]),
    );
    return;
  }
  const next: Deployment = {
    ...d,
    state: "deleting",
    message: "removed from the device",
    updatedAt: now,
    v: d.v + 1,
  };
  if ((await deps.repos.commit(withCount(deps, app, d, next, [deps.repos.deployments.replace(d, next)]))).ok)
    await removeReservation(deps, r, "toDelete");
}

/** Gives back the GPUs a deployment held (in the transaction that removes it). */
const releaseGpus = (deps: ApplicationDeps, d: Deployment) =>
  d.gpus?.length ? [deps.repos.devices.appGpus(d.deviceId, d.applicationId, [], d.gpus)] : [];

/** A deployment acknowledged gone by its device (its reservation `deleted`): the item goes; maybe the app. */
export async function deploymentGone(
  deps: ApplicationDeps,
  appId: string,
  deviceId: string,
  reservationId: string,
) {
  const d = await deps.repos.deployments.get(appId, deviceId);
  if (!d || d.reservationId !== reservationId || d.state !== "deleting") return;
  await deps.repos.commit([deps.repos.deployments.delete(d), ...releaseGpus(deps, d)]);
  const app = await deps.repos.applications.get(appId);
  if (app?.status === "deleting") await finishDelete(deps, app);
}

/**
 * Writes (or moves) the deployment of `app` on `device` and its reservation, in one transaction. A
 * successor names the reservation it supersedes, which is then removed.
 */
/** What one pass reads once for all the deployments it writes. */
interface Pass {
  namespace(): Promise<Namespace | undefined>;
}

/** Writes the device's deployment at the application's version and its reservation; true: it waits for GPUs. */
async function deployOne(
  deps: ApplicationDeps,
  pass: Pass,
  app: Application,
  device: Device,
  previous?: Deployment,
): Promise<boolean> {
  const now = deps.clock.now().toISOString();
  const reservationId = newId();
  const gpus = gpusFor(app, device, previous);
  if ("short" in gpus) {
    // Not enough free: nothing goes to the device; the deployment says why, and each pass tries again.
    const waiting: Deployment = {
      applicationId: app.id,
      workspaceId: app.workspaceId,
      deviceId: device.id,
      version: app.version,
      configVersion: app.configVersion,
      reservationId: previous?.reservationId ?? reservationId,
      state: "pending",
      message: `waiting for ${gpus.short} free GPU${gpus.short === 1 ? "" : "s"} (held by jobs or other applications)`,
      containers: previous?.containers ?? [],
      ...(previous?.gpus ? { gpus: previous.gpus } : {}),
      waitingFor: "gpus",
      updatedAt: now,
      v: (previous?.v ?? 0) + 1,
    };
    if (previous?.waitingFor && previous.message === waiting.message && previous.version === app.version)
      return true;
    await deps.repos.commit(
      withCount(deps, app, previous, waiting, [
        previous ? deps.repos.deployments.replace(previous, waiting) : deps.repos.deployments.create(waiting),
      ]),
    );
    return true;
  }
  const built = await applicationData(
    deps,
    app,
    app.type === "container" ? await pass.namespace() : undefined,
    device,
    reservationId,
    previous?.reservationId,
    gpus.held,
  );
  const r =
    "data" in built
      ? newReservation(deps, {
          id: reservationId,
          nodeId: device.id,
          workspaceId: app.workspaceId,
          user: `application:${app.namespace}/${app.name}`,
          type: "application",
          data: built.data,
          duration: APPLICATION_DURATION,
        })
      : undefined;
  const next: Deployment = {
    applicationId: app.id,
    workspaceId: app.workspaceId,
    deviceId: device.id,
    version: app.version,
    configVersion: app.configVersion,
    reservationId,
    state: "pending",
    message: previous ? `updating to version ${app.version}` : "waiting for the device",
    containers: [],
    ...(r ? { expiresAt: r.expiresAt } : {}),
    ...(gpus.held.length ? { gpus: gpus.held } : {}),
    ...("data" in built ? { specHash: built.data.application.specHash } : {}),
    // The same bundle (a renewal, a change of scheduling): the device adopts what runs, which has been up
    // since then (minReadySeconds does not start again).
    ...(previous?.state === "running" &&
    previous.availableSince &&
    "data" in built &&
    previous.specHash === built.data.application.specHash
      ? { availableSince: previous.availableSince }
      : {}),
    updatedAt: now,
    v: (previous?.v ?? 0) + 1,
  };
  if ("failed" in built || !r) {
    // Nothing to deliver (a secret is gone): the deployment says why; creating the secret redeploys.
    // Its GPUs stay as they were claimed (none is claimed or given back without a reservation).
    const { gpus: _claimedNot, ...rest } = next;
    const failed = {
      ...rest,
      ...(previous?.gpus ? { gpus: previous.gpus } : {}),
      reservationId: previous?.reservationId ?? reservationId,
      state: "failed" as const,
      message: "failed" in built ? built.failed : "",
    };
    await deps.repos.commit(
      withCount(deps, app, previous, failed, [
        previous ? deps.repos.deployments.replace(previous, failed) : deps.repos.deployments.create(failed),
      ]),
    );
    return false;
  }
  // The deployment, its count and its reservation in one transaction: another pass that got there first, or
  // a device that went, and nothing is written; a crash leaves all of it or none.
  // With a GPU claim, its write (on the device's item, which it requires to exist) checks the device.
  const claim = gpus.claim.length > 0 || gpus.release.length > 0;
  const placed = await placeReservation(
    deps,
    r,
    withCount(deps, app, previous, next, [
      previous ? deps.repos.deployments.replace(previous, next) : deps.repos.deployments.create(next),
      ...(claim ? [deps.repos.devices.appGpus(device.id, app.id, gpus.claim, gpus.release)] : []),
    ]),
    { checkDevice: !claim },
  );
  // Another write came first (a pass, a report, a job's claim of the GPUs): the next pass looks again.
  if (!placed.ok) return true;
  if (built.opened) for (const o of built.opened) await noteDeliveries(deps, o);
  if (previous) {
    const old = await deps.repos.reservations.get(device.id, previous.reservationId);
    if (old) await removeReservation(deps, old, "toDelete");
  }
  return false;
}

/** A deployment's write, with what it moves in its application's counts (in the same transaction). */
export function withCount(
  deps: ApplicationDeps,
  app: Pick<Application, "id" | "version" | "configVersion" | "rollout">,
  before: Deployment | undefined,
  after: Deployment | undefined,
  writes: Write[],
): Write[] {
  const delta = countsDelta(app, before, after, deps.clock.now());
  return delta ? [...writes, deps.repos.deployments.count(app.id, delta)] : writes;
}

/**
 * The GPUs a deployment holds for `gpus: {count}` (applications.md §7): those it holds already when the
 * count is the same, else free ones (its own first), lowest first; or how many are missing.
 */
function gpusFor(
  app: Application,
  device: Device,
  previous: Deployment | undefined,
): { held: number[]; claim: number[]; release: number[] } | { short: number } {
  const needed = gpusNeeded(app);
  const had = previous?.gpus ?? [];
  if (had.length === needed) return { held: had, claim: [], release: [] };
  const mine = new Set(had);
  // New claims skip Unhealthy GPUs (specs/gpu-health.md §5); held ones stay: running work is never moved.
  const sick = unhealthyGpus(device);
  const free = gpuIndices(device).filter(
    (i) => mine.has(i) || (!(String(i) in device.gpuOwners) && !sick.has(i) && !unhealthyDevice(device)),
  );
  if (free.length < needed) return { short: needed - free.length };
  const held = [...free.filter((i) => mine.has(i)), ...free.filter((i) => !mine.has(i))]
    .slice(0, needed)
    .sort((a, b) => a - b);
  return {
    held,
    claim: held.filter((i) => !mine.has(i)),
    release: had.filter((i) => !held.includes(i)),
  };
}

/** The signed bundle a device runs (applications.md §4), with each container's secrets sealed to it. */
async function applicationData(
  deps: ApplicationDeps,
  app: Application,
  ns: Namespace | undefined,
  device: Device,
  reservationId: string,
  supersedes: string | undefined,
  gpus: number[],
): Promise<{ data: ApplicationData; opened?: OpenedSecrets[] } | { failed: string }> {
  const containers: ApplicationData["containers"] = [];
  const opened: OpenedSecrets[] = [];
  // Each container with a count takes the next of the deployment's GPUs.
  let nextGpu = 0;
  for (const c of app.spec.containers) {
    const count = typeof c.gpus === "object" ? c.gpus.count : 0;
    const own = gpus.slice(nextGpu, nextGpu + count);
    nextGpu += count;
    const refs = secretRefs(app, c);
    let sealed = { secretEnv: {}, secretFiles: [], secretRefs: [] } as ReturnType<typeof sealFor>;
    if (refs.length > 0) {
      if (!device.encryptionKey)
        return { failed: "this device cannot receive secrets (it has no encryption key)" };
      const open = await openJobSecrets(deps, { workspaceId: app.workspaceId, secrets: refs });
      if ("missing" in open)
        return { failed: `secret ${open.missing} not found in namespace ${app.namespace}` };
      if ("tooLarge" in open) return { failed: open.tooLarge };
      opened.push(open);
      sealed = sealFor(open, device, reservationId);
    }
    // Registry credentials (the container's, the namespace's): each password sealed to the device.
    const auth: NonNullable<ApplicationData["containers"][number]["auth"]> = [];
    for (const a of app.type === "container" ? registryCredentials(c, ns) : []) {
      if (!device.encryptionKey)
        return { failed: "this device cannot receive registry credentials (it has no encryption key)" };
      const open = await openJobSecrets(deps, {
        workspaceId: app.workspaceId,
        secrets: [{ name: a.fromSecret, namespace: app.namespace }],
      });
      if ("missing" in open)
        return {
          failed: `secret ${open.missing} (the password for ${a.serverAddress}) not found in namespace ${app.namespace}`,
        };
      if ("tooLarge" in open) return { failed: open.tooLarge };
      opened.push(open);
      const password = seal(
        device.encryptionKey,
        open.values[0]!.value,
        sealedAad(device.id, reservationId, registryTarget(a.serverAddress)),
      );
      auth.push({ serverAddress: a.serverAddress, username: a.username, password });
    }
    containers.push({
      name: c.name,
      ...(app.type === "process" ? { argv: argvOf(c) } : containerRun(c)),
      args: app.type === "process" ? [] : c.args,
      env: Object.fromEntries(c.env.flatMap((e) => (e.value !== undefined ? [[e.name, e.value]] : []))),
      ports: c.ports,
      gpus: c.gpus === "all" ? "all" : own,
      ...(c.workDir ? { workingDirectory: c.workDir } : {}),
      ...(c.user ? { user: c.user } : {}),
      restartPolicy: c.restartPolicy,
      ...(c.networkMode ? { networkMode: c.networkMode } : {}),
      ...(c.hostname ? { hostname: c.hostname } : {}),
      ...(c.volumes?.length ? { mounts: c.volumes } : {}),
      ...(c.privileged ? { privileged: true } : {}),
      ...(c.capAdd?.length ? { capAdd: c.capAdd } : {}),
      ...(c.capDrop?.length ? { capDrop: c.capDrop } : {}),
      ...(c.shmSize !== undefined ? { shmSizeBytes: c.shmSize } : {}),
      ...(c.memoryHardLimit !== undefined ? { memoryBytes: c.memoryHardLimit } : {}),
      ...(c.forcePull ? { forcePull: true } : {}),
      ...(c.imagePullTimeoutSeconds !== undefined ? { pullTimeoutSeconds: c.imagePullTimeoutSeconds } : {}),
      ...(auth.length > 0 ? { auth } : {}),
      ...sealed,
    });
  }
  const data: ApplicationData = {
    application: {
      id: app.id,
      namespace: app.namespace,
      name: app.name,
      version: app.version,
      configVersion: app.configVersion,
      specHash: specHash(app),
    },
    ...(supersedes ? { supersedes } : {}),
    kind: app.type,
    containers,
    stopGracePeriodSeconds: app.stopGracePeriodSeconds,
  };
  // Held to the schema the agent checks it against: a bundle it would refuse is a failure said here.
  const checked = RESERVATION_DATA.application.safeParse(data);
  if (!checked.success)
    return {
      failed: `the application's bundle is invalid: ${checked.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
    };
  return { data, opened };
}

/** What a container's env and files take from secrets, as job references (the application's namespace). */
function secretRefs(app: Application, c: AppContainer) {
  return [
    ...c.env.flatMap((e) =>
      e.fromSecret ? [{ name: e.fromSecret, namespace: app.namespace, env: e.name }] : [],
    ),
    ...c.secrets.map((s) => ({ name: s.name, namespace: app.namespace, path: s.filepath })),
  ];
}

/** A program: its entrypoint and arguments, or its shell command. */
const argvOf = (c: AppContainer) =>
  c.entrypoint.length > 0 ? [...c.entrypoint, ...c.args] : ["/bin/sh", "-c", c.command!, "sh", ...c.args];

/** A container: its image, and the entrypoint override (or the command, through sh). */
const containerRun = (c: AppContainer) => ({
  image: c.image!,
  ...(c.entrypoint.length > 0
    ? { command: c.entrypoint }
    : c.command
      ? { command: ["/bin/sh", "-c", c.command] }
      : {}),
});

/** Every application of a workspace (a device joined, left or changed): one index query when it has none. */
export async function reconcileWorkspace(deps: ApplicationDeps, workspaceId: string): Promise<void> {
  for (const app of await deps.repos.applications.ofWorkspace(workspaceId)) await reconcileNow(deps, app.id);
}

/** A full pass over every application: those left with work go in the queue. */
export async function reconcileAll(deps: ApplicationDeps): Promise<number> {
  let n = 0;
  for (const app of await deps.repos.applications.all()) {
    try {
      if ((await reconcileApplication(deps, app.id)) !== "done")
        await deps.repos.applications.markDirty(app.id, deps.clock.now().toISOString());
      n++;
    } catch (err) {
      deps.logger.error("reconciling an application failed; the next sweep tries again", {
        applicationId: app.id,
        error: (err as Error).message,
      });
    }
  }
  return n;
}

/**
 * `run`, once at a time per key: a call while the key's run goes on makes it run once more after it (every
 * call's change is then seen), however many such calls came; each call resolves when that last run has.
 * Runs of a key start at least `minIntervalMs` apart: the changes of that time are taken in one run (a
 * rollout of a thousand devices coming up is a few passes, not a thousand).
 */
export function coalescing(
  run: (key: string) => Promise<void>,
  minIntervalMs = 0,
): (key: string) => Promise<void> {
  const inFlight = new Map<string, { again: boolean; done: Promise<void> }>();
  const lastStart = new Map<string, number>();
  return (key) => {
    const current = inFlight.get(key);
    if (current) {
      current.again = true;
      return current.done;
    }
    const entry = { again: false, done: Promise.resolve() };
    entry.done = (async () => {
      let failure: unknown;
      try {
        do {
          const wait = (lastStart.get(key) ?? 0) + minIntervalMs - Date.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          entry.again = false;
          lastStart.set(key, Date.now());
          // A run that fails does not cancel the one asked for meanwhile; the last one's failure is thrown.
          failure = undefined;
          await run(key).catch((err: unknown) => {
            failure = err;
          });
        } while (entry.again);
      } finally {
        inFlight.delete(key);
        // Forgotten once its interval is over (one entry per application ever seen would only grow).
        if (minIntervalMs === 0) lastStart.delete(key);
        else
          setTimeout(() => {
            if (!inFlight.has(key)) lastStart.delete(key);
          }, minIntervalMs).unref();
      }
      if (failure !== undefined) throw failure;
    })();
    inFlight.set(key, entry);
    return entry.done;
  };
}
