import { type Device, deviceStatus } from "../../domain/device.ts";
import { BerthError, ErrorCode, invalidRequest } from "../../domain/errors.ts";
import {
  type DeviceHealthSummary,
  effectiveHealth,
  type HealthReport,
  type HealthSettings,
  SETTABLE_COMPONENTS,
  summarize,
} from "../../domain/gpu-health.ts";
import type { DevicePrincipal, UserPrincipal } from "../../domain/principal.ts";
import type { Page, PageRequest } from "../../ports/pagination.ts";
import type { HealthEventFilter } from "../../ports/repositories.ts";
import type { JobDeps } from "../deps.ts";
import { newReservation, placeReservation } from "../feed/reservations.ts";
import { ownDevice } from "../identity/devices.ts";
import { OPERATION_SECONDS, operationState, operationView } from "../identity/operations.ts";

/** How far ahead of the control plane a report's collectedAt may be. */
const MAX_CLOCK_AHEAD_MS = 5 * 60_000;

/** What is kept of a report: at most 128 KiB (§5), `raw_output` dropped first. */
const MAX_STORED_BYTES = 128 * 1024;

function storable(report: HealthReport): HealthReport {
  const kept = { ...report, events: [] };
  if (JSON.stringify(kept).length <= MAX_STORED_BYTES) return kept;
  const bare = {
    ...kept,
    states: kept.states.map((c) => ({
      ...c,
      states: c.states.map(({ raw_output: _raw, ...s }) => s),
    })),
  };
  if (JSON.stringify(bare).length <= MAX_STORED_BYTES) return bare;
  throw invalidRequest(
    `the health report is over ${MAX_STORED_BYTES} bytes even without raw output; report fewer states`,
  );
}

/**
 * `POST /agent/health`: stores the device's report if it is newer than the stored one (reports out of
 * order change nothing), its events (idempotent by id), and the device's summary. A GPU or device that
 * came back from Unhealthy frees capacity: waiting jobs are placed again.
 */
export async function reportHealth(
  deps: JobDeps,
  device: DevicePrincipal,
  report: HealthReport,
): Promise<{ stored: boolean; summary: DeviceHealthSummary }> {
  const now = deps.clock.now().toISOString();
  // A clock far ahead would make its report "newer" than every honest one after it, freezing the summary.
  if (Date.parse(report.collectedAt) - Date.parse(now) > MAX_CLOCK_AHEAD_MS)
    throw invalidRequest(
      `collectedAt ${report.collectedAt} is more than 5 minutes ahead of the control plane's clock (${now}); fix the machine's clock (NTP)`,
    );
  const before = await deps.repos.devices.identity(device.deviceId);
  const summary = summarize(report, now);
  const stored = await deps.repos.health.put(
    { deviceId: device.deviceId, report: storable(report), receivedAt: now },
    summary,
  );
  if (report.events.length) await deps.repos.health.addEvents(device.deviceId, report.events);
  if (stored && before && recovered(before.health, summary)) await deps.capacityFreed(device.workspaceId);
  if (stored && summary.state !== (before?.health?.state ?? "Healthy"))
    deps.logger.info("device health changed", {
      deviceId: device.deviceId,
      from: before?.health?.state,
      to: summary.state,
      reason: summary.reason,
    });
  return { stored, summary };
}

/** Fewer GPUs (or the device) excluded than before. */
const recovered = (before: DeviceHealthSummary | undefined, now: DeviceHealthSummary) =>
  !!before &&
  ((before.deviceUnhealthy && !now.deviceUnhealthy) ||
    before.unhealthyGpus.some((i) => !now.unhealthyGpus.includes(i)));

/** The device's summary as users read it (`Unknown` after 15 silent minutes while online). */
export function healthOf(device: Device, now: Date, ttlSeconds: number) {
  return effectiveHealth(device.health, deviceStatus(device.lastSeenAt, now, ttlSeconds) === "online", now);
}

/** `GET /devices/{id}/health`: the last report and the summary (404 for another workspace's device). */
export async function deviceHealth(deps: JobDeps, workspaceId: string, deviceId: string) {
  const device = await ownDevice(deps, workspaceId, deviceId);
  const stored = await deps.repos.health.get(device.id);
  return {
    deviceId: device.id,
    summary: healthOf(device, deps.clock.now(), deps.config.deviceTtlSeconds) ?? null,
    report: stored ? { ...stored.report, receivedAt: stored.receivedAt } : null,
  };
}

/** `GET /devices/{id}/health/events`: newest first. */
export async function deviceHealthEvents(
  deps: JobDeps,
  workspaceId: string,
  deviceId: string,
  filter: HealthEventFilter,
  page: PageRequest,
): Promise<Page<HealthReport["events"][number]>> {
  const device = await ownDevice(deps, workspaceId, deviceId);
  return deps.repos.health.events(
    device.id,
    { ...filter, ...(filter.since ? { since: new Date(filter.since).toISOString() } : {}) },
    page,
  );
}

/**
 * `POST /devices/{id}/health/set-healthy`: a signed operation on the device's feed (specs/gpu-health.md §5).
 * The agent purges the components' events up to the operation's issue time (a newer Xid survives) and
 * reports again. Only GPUd's settable components; only devices with Berth's agent.
 */
export async function setHealthy(
  deps: JobDeps,
  user: UserPrincipal,
  deviceId: string,
  input: { components?: string[] },
) {
  const device = await ownDevice(deps, user.workspaceId, deviceId);
  const settable: readonly string[] = SETTABLE_COMPONENTS;
  const bad = (input.components ?? []).filter((c) => !settable.includes(c));
  if (bad.length)
    throw invalidRequest(
      `component ${bad.join(", ")} cannot be set healthy; these can: ${SETTABLE_COMPONENTS.join(", ")}`,
      { settable: [...SETTABLE_COMPONENTS] },
    );
  if (!device.publicKey)
    throw new BerthError(
      ErrorCode.RequestNotSupported,
      `device ${device.id} has no Berth agent (GPUd alone cannot be told to set health)`,
    );
  const now = deps.clock.now();
  const live = await deps.repos.reservations.listForDevice(device.id);
  // Sorted and once each: the same request in another order is the same operation.
  const components = [...new Set(input.components?.length ? input.components : SETTABLE_COMPONENTS)].sort();
  const r = newReservation(deps, {
    nodeId: device.id,
    workspaceId: user.workspaceId,
    user: user.name,
    type: "operation",
    data: { action: "set-healthy", components, reason: "" },
    duration: OPERATION_SECONDS,
  });
  // The same set-healthy asked twice while one is waiting: the waiting one is the answer.
  const waiting = live.find(
    (x) =>
      x.type === "operation" &&
      ["pending", "delivered"].includes(operationState(x, now)) &&
      x.data === r.data,
  );
  if (waiting) return operationView(waiting, now);
  const placed = await placeReservation(deps, r);
  if (!placed.ok) throw new BerthError(ErrorCode.NotFound, `device ${deviceId} not found`);
  deps.logger.info("device set-healthy requested", { deviceId: device.id, operation: r.id, components });
  return operationView(placed.reservation, deps.clock.now());
}

/** Settings read in the last few seconds, per workspace: placement reads them for every job it places. */
const SETTINGS_CACHE_MS = 5000;
type SettingsCache = Map<string, { at: number; settings: HealthSettings }>;
/** Per store (by its repositories): two apps in one process (tests) never see each other's. */
const caches = new WeakMap<object, SettingsCache>();
const cacheOf = (deps: JobDeps): SettingsCache => {
  const cache = caches.get(deps.repos) ?? new Map();
  caches.set(deps.repos, cache);
  return cache;
};

/**
 * The workspace's health settings (defaults until an admin sets them), read at most every 5 s per process;
 * a change made through another server is seen within that.
 */
export async function healthSettings(deps: JobDeps, workspaceId: string): Promise<HealthSettings> {
  const settingsCache = cacheOf(deps);
  const cached = settingsCache.get(workspaceId);
  if (cached && Date.now() - cached.at < SETTINGS_CACHE_MS) return cached.settings;
  const settings = (await deps.repos.health.settings(workspaceId)) ?? {
    placement: "exclude-unhealthy" as const,
  };
  if (settingsCache.size > 10_000) settingsCache.clear();
  settingsCache.set(workspaceId, { at: Date.now(), settings });
  return settings;
}

export async function putHealthSettings(
  deps: JobDeps,
  workspaceId: string,
  settings: HealthSettings,
): Promise<HealthSettings> {
  await deps.repos.health.putSettings(workspaceId, settings);
  cacheOf(deps).delete(workspaceId);
  // Placement may now take GPUs it skipped.
  await deps.capacityFreed(workspaceId);
  return settings;
}
