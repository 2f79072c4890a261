import type { HeartbeatRequest } from "../../contracts/agent.ts";
import type { DeviceInfo } from "../../domain/device.ts";
import { invalidRequest, unauthorized } from "../../domain/errors.ts";
import { GpudMachineInfo, machineInfoIssue, normalizeMachineInfo } from "../../domain/machine-info.ts";
import type { DevicePrincipal } from "../../domain/principal.ts";
import { hashToken, tokenId, tokenMatches } from "../../domain/tokens.ts";
import type { StoreDeps } from "../deps.ts";

/**
 * Session tokens recently verified in this process: device id → the hash of its current token, the
 * principal, and until when the entry may be used. Bounded in time (`ttlMs`) and in size. An entry is
 * evicted at once where the device is deleted or its token rotated (this process), on a revocation
 * broadcast from another process (PostgreSQL), and otherwise expires: a revoked token is refused at the
 * latest `ttlMs` after the revocation, anywhere.
 */
export interface DeviceAuthCache {
  ttlMs: number;
  entries: Map<string, { tokenHash: string; principal: DevicePrincipal; until: number }>;
}

const MAX_CACHED_DEVICES = 100_000;

export const deviceAuthCache = (ttlMs: number): DeviceAuthCache => ({ ttlMs, entries: new Map() });

/** Forgets what this process knows of a device's session (deleted, or its token rotated). */
export const forgetDeviceSession = (cache: DeviceAuthCache, deviceId: string) =>
  cache.entries.delete(deviceId);

type Deps = StoreDeps & {
  config: { deviceTtlSeconds: number };
  seenCache: Map<string, number>;
  deviceAuth: DeviceAuthCache;
};

/** lastSeenAt is written at most once per this many ms: a third of the TTL that decides online/offline. */
export const seenResolutionMs = (ttlSeconds: number) => Math.floor((ttlSeconds * 1000) / 3);

/**
 * Resolves a session token to its device: one consistent read of the device item (not its presence) and a
 * constant-time hash check, or no read at all when this process verified the same token within the cache's
 * TTL. A deleted device, or a token replaced by a rotation, is a 401 that tells the agent to stop.
 */
export async function authenticateDevice(deps: Deps, token: string): Promise<DevicePrincipal> {
  const id = tokenId("session", token);
  if (!id) throw unauthorized("malformed session token: expected a token that starts with berth_st_");
  const now = deps.clock.now().getTime();
  const tokenHash = hashToken(token);
  const cached = deps.deviceAuth.entries.get(id);
  if (cached && cached.tokenHash === tokenHash && cached.until > now) return cached.principal;
  const device = await deps.repos.devices.identity(id);
  if (!device) {
    forgetDeviceSession(deps.deviceAuth, id);
    throw unauthorized(`device ${id} is not registered (it was deleted); register the machine again`);
  }
  if (!tokenMatches(token, device.sessionTokenHash)) {
    throw unauthorized("session token was replaced by a newer login; use the token that login returned");
  }
  const principal: DevicePrincipal = {
    kind: "device",
    workspaceId: device.workspaceId,
    deviceId: device.id,
    ...(device.publicKey ? { publicKey: device.publicKey } : {}),
    ...(device.protocol ? { protocol: device.protocol } : {}),
  };
  if (deps.deviceAuth.ttlMs > 0) {
    if (deps.deviceAuth.entries.size >= MAX_CACHED_DEVICES) {
      // Oldest first (a Map keeps insertion order): the cache never grows past its bound.
      deps.deviceAuth.entries.delete(deps.deviceAuth.entries.keys().next().value!);
    }
    deps.deviceAuth.entries.delete(id);
    deps.deviceAuth.entries.set(id, { tokenHash, principal, until: now + deps.deviceAuth.ttlMs });
  }
  return principal;
}

/**
 * Records that a device was seen, on its small presence item. Cheap: this process skips the write when it
 * wrote one for the device within a third of the online TTL (so an online device is written three times per
 * TTL at most), and the conditional write keeps all processes together to one per window.
 */
export async function deviceSeen(deps: Deps, deviceId: string): Promise<void> {
  const now = deps.clock.now();
  const last = deps.seenCache.get(deviceId);
  const resolution = seenResolutionMs(deps.config.deviceTtlSeconds);
  if (last !== undefined && now.getTime() - last < resolution) return;
  deps.seenCache.set(deviceId, now.getTime());
  await deps.repos.devices.seen(deviceId, now.toISOString(), resolution);
}

/** A heartbeat: always refreshes presence, and the machine info when it is sent. */
export async function heartbeat(deps: Deps, device: DevicePrincipal, input: HeartbeatRequest) {
  const now = deps.clock.now().toISOString();
  if (input.machineInfo || input.agentVersion) {
    let info: DeviceInfo | undefined;
    if (input.machineInfo) {
      const current = await deps.repos.devices.identity(device.deviceId);
      if (!current) throw unauthorized(`device ${device.deviceId} is not registered (it was deleted)`);
      // Addresses and location come from login; a heartbeat updates what the machine reports about itself.
      const { publicIP, privateIP, region, zone, provider, providerInstanceId } = current.info;
      const raw = GpudMachineInfo.parse(input.machineInfo);
      const issue = machineInfoIssue(raw);
      if (issue) throw invalidRequest(`invalid request body: ${issue.path}: ${issue.message}`, [issue]);
      info = normalizeMachineInfo(raw, {
        publicIP,
        privateIP,
        region,
        zone,
        provider,
        providerInstanceId,
      });
    }
    await deps.repos.devices.refresh(device.deviceId, { info, agentVersion: input.agentVersion }, now);
  }
  await deps.repos.devices.seen(device.deviceId, now, 0);
  deps.seenCache.set(device.deviceId, Date.parse(now));
  return {
    serverTime: now,
    heartbeatIntervalSeconds: Math.max(5, Math.floor(deps.config.deviceTtlSeconds / 3)),
  };
}
