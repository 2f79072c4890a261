import type { DeviceView, UpdateDeviceRequest } from "../contracts/devices.ts";
import { type Device, type DeviceStatus, deviceStatus } from "../domain/device.ts";
import { notFound } from "../domain/errors.ts";
import { type Labels, labelsMatch } from "../domain/labels.ts";
import type { Clock } from "../ports/clock.ts";
import type { Page, PageRequest } from "../ports/pagination.ts";
import type { Repositories } from "../ports/repositories.ts";

type Deps = { repos: Repositories; clock: Clock; config: { deviceTtlSeconds: number } };

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
 * Deletes a device, which revokes its session (the agent's next call is a 401), then gives back its
 * place in its node group and its registration on the token. The device goes first: if a later step
 * fails, a counter is one too high (blocking a group delete or one registration), never too low.
 */
export async function deleteDevice(deps: Deps, workspaceId: string, id: string): Promise<void> {
  const device = await deps.repos.devices.delete(workspaceId, id);
  await deps.repos.nodeGroups.leave(workspaceId, device.nodeGroup);
  await deps.repos.registrationTokens.releaseRegistration(device.registrationTokenId);
}
