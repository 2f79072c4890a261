import type { DeviceView, UpdateDeviceRequest } from "../../contracts/devices.ts";
import { type Device, type DeviceStatus, deviceStatus } from "../../domain/device.ts";
import { notFound } from "../../domain/errors.ts";
import { type Labels, labelsMatch } from "../../domain/labels.ts";
import type { Page, PageRequest } from "../../ports/pagination.ts";
import type { Broadcast } from "../../ports/store.ts";
import type { StoreDeps } from "../deps.ts";
import { done, mutate, reread } from "../mutate.ts";
import { type DeviceAuthCache, forgetDeviceSession } from "./device-session.ts";

type Deps = StoreDeps & { config: { deviceTtlSeconds: number } };

/** The topic on which processes sharing a database tell each other that a device's session is revoked. */
export const REVOKE_TOPIC = "revoke";

export function deviceView(d: Device, now: Date, ttlSeconds: number): DeviceView {
  const { zone: _zone, providerInstanceId: _pid, ...info } = d.info;
  return {
    id: d.id,
    name: d.name,
    workspaceId: d.workspaceId,
    nodeGroup: d.nodeGroup,
    registrationTokenId: d.registrationTokenId,
    labels: d.labels,
    environmentVariables: d.environmentVariables,
    status: deviceStatus(d.lastSeenAt, now, ttlSeconds),
    lastSeenAt: d.lastSeenAt,
    info,
    resources: d.resources,
    allocated: { gpus: Object.keys(d.gpuOwners).length },
    agentVersion: d.agentVersion,
    protocol: d.protocol ?? 1,
    createdAt: d.createdAt,
    updatedAt: d.updatedAt,
  };
}

export interface DeviceFilter {
  labels?: Labels;
  nodeGroup?: string;
  status?: DeviceStatus;
  search?: string;
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
    (!needle ||
      d.name.toLowerCase().includes(needle) ||
      d.id.includes(needle) ||
      (d.info.hostname ?? "").toLowerCase().includes(needle));
  const result = await deps.repos.devices.list(workspaceId, page, keep);
  return {
    items: result.items.map((d) => deviceView(d, now, deps.config.deviceTtlSeconds)),
    cursor: result.cursor,
  };
}

async function ownDevice(deps: Deps, workspaceId: string, id: string): Promise<Device> {
  const device = await deps.repos.devices.get(id);
  if (!device || device.workspaceId !== workspaceId) throw notFound(`device ${id} not found`);
  return device;
}

export async function getDevice(deps: Deps, workspaceId: string, id: string): Promise<DeviceView> {
  return deviceView(await ownDevice(deps, workspaceId, id), deps.clock.now(), deps.config.deviceTtlSeconds);
}

/** Renames or relabels a device (labels: the complete new set). */
export async function updateDevice(deps: Deps, workspaceId: string, id: string, patch: UpdateDeviceRequest) {
  const now = deps.clock.now();
  const updated = await deps.repos.devices.update(workspaceId, id, patch, now.toISOString());
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
}
