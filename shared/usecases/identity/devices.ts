import type { DeviceView, UpdateDeviceRequest } from "../../contracts/devices.ts";
import {
  type Device,
  type DeviceStatus,
  deviceStatus,
  scheduling,
  silentSince,
} from "../../domain/device.ts";
import { invalidRequest, notFound } from "../../domain/errors.ts";
import { type DeviceHealthState, effectiveHealth } from "../../domain/gpu-health.ts";
import { type Labels, labelsMatch } from "../../domain/labels.ts";
import type { Page, PageRequest } from "../../ports/pagination.ts";
import type { Broadcast } from "../../ports/store.ts";
import type { StoreDeps } from "../deps.ts";
import { done, mutate, reread } from "../mutate.ts";
import { type DeviceAuthCache, forgetDeviceSession } from "./device-session.ts";

type Deps = StoreDeps & {
  config: { deviceTtlSeconds: number };
  /** Applications follow devices that join, leave or change (the host reconciles them). */
  fleetChanged?: (workspaceId: string) => Promise<void>;
};

/** The topic on which processes sharing a database tell each other that a device's session is revoked. */
export const REVOKE_TOPIC = "revoke";

export function deviceView(d: Device, now: Date, ttlSeconds: number, pulseSince?: string): DeviceView {
  const { zone: _zone, providerInstanceId: _pid, ...info } = d.info;
  const status = deviceStatus(d.lastSeenAt, now, ttlSeconds);
  return {
    id: d.id,
    name: d.name,
    workspaceId: d.workspaceId,
    nodeGroup: d.nodeGroup,
    registrationTokenId: d.registrationTokenId,
    labels: d.labels,
    environmentVariables: d.environmentVariables,
    status,
    lastSeenAt: d.lastSeenAt,
    info,
    resources: d.resources,
    allocated: { gpus: Object.keys(d.gpuOwners).length },
    agentVersion: d.agentVersion,
    protocol: d.protocol ?? 1,
    scheduling: scheduling(d),
    ...(d.drain && scheduling(d) === "draining" ? { drain: d.drain } : {}),
    held: { cpus: d.heldCpus, memoryGiB: d.heldMemoryGiB, jobs: d.heldJobs },
    ...(d.health ? { health: effectiveHealth(d.health, status === "online", now) } : {}),
    ...(status === "offline"
      ? { silentSince: new Date(silentSince(d.lastSeenAt, pulseSince)).toISOString() }
      : {}),
    createdAt: d.createdAt,
    updatedAt: d.updatedAt,
  };
}

export interface DeviceFilter {
  labels?: Labels;
  nodeGroup?: string;
  status?: DeviceStatus;
  search?: string;
  /** Its health summary's state (a device that never reported has none, and matches no state). */
  health?: DeviceHealthState;
}

/** Devices of the workspace matching every given filter (labels: all pairs must match). */
export async function listDevices(
  deps: Deps,
  workspaceId: string,
  filter: DeviceFilter,
  page: PageRequest,
): Promise<Page<DeviceView>> {
  const now = deps.clock.now();
  const needle = filter.search?.toLowerCase();
  const keep = (d: Device) =>
    (!filter.labels || labelsMatch(d.labels, filter.labels)) &&
    (!filter.nodeGroup || d.nodeGroup === filter.nodeGroup) &&
    (!filter.status || deviceStatus(d.lastSeenAt, now, deps.config.deviceTtlSeconds) === filter.status) &&
    (!filter.health ||
      effectiveHealth(
        d.health,
        deviceStatus(d.lastSeenAt, now, deps.config.deviceTtlSeconds) === "online",
        now,
      )?.state === filter.health) &&
    (!needle ||
      d.name.toLowerCase().includes(needle) ||
      d.id.includes(needle) ||
      (d.info.hostname ?? "").toLowerCase().includes(needle));
  const [result, pulse] = await Promise.all([
    deps.repos.devices.list(workspaceId, page, keep),
    deps.repos.devices.lastPulse(),
  ]);
  return {
    items: result.items.map((d) => deviceView(d, now, deps.config.deviceTtlSeconds, pulse?.since)),
    cursor: result.cursor,
  };
}

export async function ownDevice(deps: Deps, workspaceId: string, id: string): Promise<Device> {
  const device = await deps.repos.devices.get(id);
  if (!device || device.workspaceId !== workspaceId) throw notFound(`device ${id} not found`);
  return device;
}

export async function getDevice(deps: Deps, workspaceId: string, id: string): Promise<DeviceView> {
  const [device, pulse] = await Promise.all([
    ownDevice(deps, workspaceId, id),
    deps.repos.devices.lastPulse(),
  ]);
  return deviceView(device, deps.clock.now(), deps.config.deviceTtlSeconds, pulse?.since);
}

/**
 * Renames, relabels (labels: the complete new set) or moves a device to another node group. A move is one
 * transaction with both groups' counts (the old group is left, the new one joined), conditional on the
 * device still being in the group it was read in.
 */
export async function updateDevice(deps: Deps, workspaceId: string, id: string, patch: UpdateDeviceRequest) {
  const now = deps.clock.now();
  const { nodeGroup, ...rest } = patch;
  if (nodeGroup !== undefined) await moveDevice(deps, workspaceId, id, nodeGroup);
  const updated =
    Object.keys(rest).length > 0 || nodeGroup === undefined
      ? await deps.repos.devices.update(workspaceId, id, rest, now.toISOString())
      : await ownDevice(deps, workspaceId, id);
  if (patch.labels !== undefined || nodeGroup !== undefined) await deps.fleetChanged?.(workspaceId);
  return deviceView(updated, now, deps.config.deviceTtlSeconds);
}

async function moveDevice(deps: Deps, workspaceId: string, id: string, to: string) {
  if (!(await deps.repos.nodeGroups.get(workspaceId, to)))
    throw invalidRequest(`no node group named ${to}; create it first (berth node-groups create ${to})`, [
      { path: "nodeGroup", message: "no such node group" },
    ]);
  await mutate({
    what: `device ${id}`,
    read: () => deps.repos.devices.identity(id),
    async attempt(device) {
      if (!device || device.workspaceId !== workspaceId) throw notFound(`device ${id} not found`);
      if (device.nodeGroup === to) return done(undefined);
      const from = await deps.repos.nodeGroups.get(workspaceId, device.nodeGroup);
      const committed = await deps.repos.commit([
        deps.repos.devices.moveGroup(device, device.nodeGroup, to, deps.clock.now().toISOString()),
        from && from.deviceCount > 0 && deps.repos.nodeGroups.leave(workspaceId, from.name),
        deps.repos.nodeGroups.join(workspaceId, to),
      ]);
      if (committed.ok) return done(undefined);
      // The group was deleted meanwhile (its join failed): say so; anything else, decide again.
      if (committed.what.startsWith("join node group"))
        throw invalidRequest(`node group ${to} was deleted`, [
          { path: "nodeGroup", message: "no such node group" },
        ]);
      return reread;
    },
  });
}

/** `cordon`: no new placements on the device (its jobs carry on); `uncordon`: eligible again, drain ended. */
export async function cordonDevice(deps: Deps, workspaceId: string, id: string, cordon: boolean) {
  const now = deps.clock.now();
  const updated = await deps.repos.devices.update(
    workspaceId,
    id,
    cordon ? { eligibility: "ineligible" } : { eligibility: "eligible", drain: null },
    now.toISOString(),
  );
  // Applications wait for a cordoned device: uncordoned, it gets them.
  if (!cordon) await deps.fleetChanged?.(workspaceId);
  return deviceView(updated, now, deps.config.deviceTtlSeconds);
}

/**
 * Drains a device (Nomad's node drain): no new placements; its running jobs may finish until the deadline,
 * when the sweeper stops them. When none is left the drain is over and the device stays cordoned.
 */
export async function drainDevice(deps: Deps, workspaceId: string, id: string, deadlineSeconds: number) {
  const now = deps.clock.now();
  const updated = await deps.repos.devices.update(
    workspaceId,
    id,
    {
      eligibility: "ineligible",
      drain: {
        startedAt: now.toISOString(),
        deadline: new Date(now.getTime() + deadlineSeconds * 1000).toISOString(),
      },
    },
    now.toISOString(),
  );
  return deviceView(updated, now, deps.config.deviceTtlSeconds);
}

/**
 * Deletes a device, which revokes its session (the agent's next call is a 401), and gives back its place in
 * its node group and its registration on the token, in one transaction: the counts stay exact even if the
 * process dies. Other processes stop accepting its session token at once where they hear the revocation
 * (PostgreSQL), otherwise within their authentication cache's TTL.
 */
export async function deleteDevice(
  deps: Deps & { deviceAuth: DeviceAuthCache; broadcast?: Broadcast },
  workspaceId: string,
  id: string,
): Promise<void> {
  await mutate({
    what: `device ${id}`,
    read: () => deps.repos.devices.identity(id),
    async attempt(device) {
      if (!device || device.workspaceId !== workspaceId) throw notFound(`device ${id} not found`);
      const [token, group] = await Promise.all([
        deps.repos.registrationTokens.get(device.registrationTokenId),
        deps.repos.nodeGroups.get(workspaceId, device.nodeGroup),
      ]);
      // A token deleted since (or a count already at 0) has nothing to give back.
      const committed = await deps.repos.commit([
        deps.repos.devices.delete(device),
        group && group.deviceCount > 0 && deps.repos.nodeGroups.leave(workspaceId, group.name),
        token && token.deviceCount > 0 && deps.repos.registrationTokens.release(token.id),
      ]);
      return committed.ok ? done(undefined) : reread;
    },
  });
  forgetDeviceSession(deps.deviceAuth, id);
  await deps.broadcast?.publish(REVOKE_TOPIC, id).catch(() => {});
  await deps.fleetChanged?.(workspaceId);
}
