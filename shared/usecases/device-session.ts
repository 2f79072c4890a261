import type { HeartbeatRequest } from "../contracts/agent.ts";
import type { DeviceInfo } from "../domain/device.ts";
import { unauthorized } from "../domain/errors.ts";
import { GpudMachineInfo, normalizeMachineInfo } from "../domain/machine-info.ts";
import type { DevicePrincipal } from "../domain/principal.ts";
import type { ServerKeys } from "../domain/secrets.ts";
import { tokenId, tokenMatches } from "../domain/tokens.ts";
import type { Clock } from "../ports/clock.ts";
import type { Repositories } from "../ports/repositories.ts";

type Deps = {
  repos: Repositories;
  clock: Clock;
  keys: ServerKeys;
  config: { deviceTtlSeconds: number };
  seenCache: Map<string, number>;
};

/** lastSeenAt is written at most once per this many ms: a third of the TTL that decides online/offline. */
export const seenResolutionMs = (ttlSeconds: number) => Math.floor((ttlSeconds * 1000) / 3);

/**
 * Resolves a session token to its device: one consistent read and a constant-time hash check. A
 * deleted device, or a token replaced by a rotation, is a 401 that tells the agent to stop.
 */
export async function authenticateDevice(deps: Deps, token: string): Promise<DevicePrincipal> {
  const id = tokenId("session", token);
  if (!id) throw unauthorized("malformed session token: expected a token that starts with berth_st_");
  const device = await deps.repos.devices.get(id);
  if (!device)
    throw unauthorized(`device ${id} is not registered (it was deleted); register the machine again`);
  if (!tokenMatches(token, device.sessionTokenHash)) {
    throw unauthorized("session token was replaced by a newer login; use the token that login returned");
  }
  return { kind: "device", workspaceId: device.workspaceId, deviceId: device.id };
}

/**
 * Records that a device was seen. Cheap: this process skips the write when it wrote one for the device
 * within a third of the online TTL (so an online device is written three times per TTL at most), and the
 * conditional write keeps all processes together to one per window.
 */
export async function deviceSeen(deps: Deps, deviceId: string): Promise<void> {
  const now = deps.clock.now();
  const last = deps.seenCache.get(deviceId);
  const resolution = seenResolutionMs(deps.config.deviceTtlSeconds);
  if (last !== undefined && now.getTime() - last < resolution) return;
  deps.seenCache.set(deviceId, now.getTime());
  await deps.repos.devices.touch(deviceId, now.toISOString(), resolution);
}

/** A heartbeat: always refreshes lastSeenAt, and the machine info when it is sent. */
export async function heartbeat(deps: Deps, device: DevicePrincipal, input: HeartbeatRequest) {
  const now = deps.clock.now().toISOString();
  let info: DeviceInfo | undefined;
  if (input.machineInfo) {
    const current = await deps.repos.devices.get(device.deviceId);
    if (!current) throw unauthorized(`device ${device.deviceId} is not registered (it was deleted)`);
    // Addresses and location come from login; a heartbeat updates what the machine reports about itself.
    const { publicIP, privateIP, region, zone, provider, providerInstanceId } = current.info;
    info = normalizeMachineInfo(GpudMachineInfo.parse(input.machineInfo), {
      publicIP,
      privateIP,
      region,
      zone,
      provider,
      providerInstanceId,
    });
  }
  await deps.repos.devices.refresh(
    device.deviceId,
    { lastSeenAt: now, info, agentVersion: input.agentVersion },
    now,
  );
  deps.seenCache.set(device.deviceId, Date.parse(now));
  return {
    serverTime: now,
    heartbeatIntervalSeconds: Math.max(5, Math.floor(deps.config.deviceTtlSeconds / 3)),
  };
}
