import { z } from "zod";
import { appGpuOwner } from "../../domain/application.ts";
import { Device } from "../../domain/device.ts";
import { notFound } from "../../domain/errors.ts";
import type { DeviceRepository } from "../../ports/repositories.ts";
import { c, type Store } from "../../ports/store.ts";
import {
  createWrite,
  itemOf,
  parseEach,
  parseItem,
  patchChanges,
  queryAll,
  queryPage,
  write,
} from "./base.ts";
import { keys } from "./keys.ts";

const Identity = Device.omit({ lastSeenAt: true });
const Presence = z.object({ lastSeenAt: z.iso.datetime() });
const Pulse = z.object({ since: z.iso.datetime(), lastAt: z.iso.datetime() });
const identity = (item: Record<string, unknown>) => parseItem(Identity, "device", item);

/**
 * Devices in three items of their partition: the device (`DEVICE`), its presence (`SEEN`, the only item an
 * online agent keeps writing) and the raw machine info it logged in with (`MACHINEINFO`, up to 64 KiB,
 * kept for operators and read by nothing on a hot path).
 */
export function deviceRepository(store: Store): DeviceRepository {
  const missing = (id: string) => notFound(`device ${id} not found`);
  /** Presence of several devices in one read. */
  const presenceOf = async (ids: string[]) => {
    const seen = new Map<string, string>();
    for (const item of await store.getMany(ids.map(keys.presence))) {
      seen.set(
        String(item.pk).slice("DEVICE#".length),
        parseItem(Presence, "device presence", item).lastSeenAt,
      );
    }
    return seen;
  };
  // A device whose presence was never written (it was created before presence had an item) was last seen
  // when it last changed.
  const withPresence = (d: z.infer<typeof Identity>, seen: Map<string, string>): Device => ({
    ...d,
    lastSeenAt: seen.get(d.id) ?? d.updatedAt,
  });

  return {
    async get(id) {
      const items = await store.getMany([keys.device(id), keys.presence(id)]);
      const device = items.find((i) => i.sk === "DEVICE");
      if (!device) return undefined;
      const presence = items.find((i) => i.sk === "SEEN");
      const d = identity(device);
      return {
        ...d,
        lastSeenAt: presence ? parseItem(Presence, "device presence", presence).lastSeenAt : d.updatedAt,
      };
    },
    async identity(id) {
      const item = await store.get(keys.device(id));
      return item ? identity(item) : undefined;
    },
    create(device, machineInfo) {
      const { lastSeenAt, ...rest } = device;
      return write(
        `create device ${device.id}`,
        // Id collision: never overwrite a device.
        ...createWrite(
          `device ${device.id}`,
          itemOf(keys.device(device.id), rest, {
            gsi1pk: keys.devicesOf(device.workspaceId),
            gsi1sk: device.id,
          }),
        ).ops,
        { put: itemOf(keys.presence(device.id), { lastSeenAt }) },
        ...(machineInfo ? [{ put: itemOf(keys.machineInfo(device.id), { machineInfo }) }] : []),
      );
    },
    list(workspaceId, page, keep) {
      let seen = new Map<string, string>();
      return queryPage(
        store,
        { index: "gsi1", partition: keys.devicesOf(workspaceId) },
        (item) => {
          const device = withPresence(identity(item), seen);
          return !keep || keep(device) ? device : undefined;
        },
        page,
        async (items) => {
          seen = items.length
            ? await presenceOf(items.map((i) => String(i.pk).slice("DEVICE#".length)))
            : new Map();
        },
      );
    },
    async listAll(workspaceId) {
      const all = parseEach(
        store,
        await queryAll(store, { index: "gsi1", partition: keys.devicesOf(workspaceId) }),
        identity,
      );
      const seen = all.length ? await presenceOf(all.map((d) => d.id)) : new Map<string, string>();
      return all.map((d) => withPresence(d, seen));
    },
    async update(workspaceId, id, patch, at) {
      // Delete racing a rename, or another workspace's id: only an existing device of this workspace changes.
      const out = await store.update(keys.device(id), patchChanges({ ...patch, updatedAt: at }), {
        if: c.and(c.exists(), c.eq("workspaceId", workspaceId)),
      });
      if (!out.ok) throw missing(id);
      const seen = await presenceOf([id]);
      return withPresence(identity(out.item), seen);
    },
    async refresh(id, fields, at) {
      // A relogin or heartbeat racing a delete must not recreate the device.
      const out = await store.update(keys.device(id), patchChanges({ ...fields, updatedAt: at }), {
        if: c.exists(),
      });
      if (!out.ok) throw missing(id);
      return identity(out.item);
    },
    async saveMachineInfo(id, machineInfo) {
      if (machineInfo) await store.put(itemOf(keys.machineInfo(id), { machineInfo }));
      else await store.delete(keys.machineInfo(id));
    },
    async seen(id, at, resolutionMs) {
      const threshold = new Date(Date.parse(at) - resolutionMs).toISOString();
      // Many polls from one agent at once: at most one write per resolution window. The presence item is
      // created and deleted with its device, so a deleted device is never made present again.
      const out = await store.update(
        keys.presence(id),
        { set: { lastSeenAt: at } },
        { if: c.and(c.exists(), c.lt("lastSeenAt", resolutionMs > 0 ? threshold : at)) },
      );
      if (out.ok || out.current) return;
      // No presence item: a device stored before presence had one. Created only while the device exists.
      await store.transact([
        { check: keys.device(id), if: c.exists() },
        { put: itemOf(keys.presence(id), { lastSeenAt: at }), if: c.absent() },
      ]);
    },
    delete: (device) =>
      write(
        `delete device ${device.id}`,
        // Two deletes at once, or another workspace's id: only one deletes an existing device of this workspace.
        { delete: keys.device(device.id), if: c.and(c.exists(), c.eq("workspaceId", device.workspaceId)) },
        { delete: keys.presence(device.id) },
        { delete: keys.machineInfo(device.id) },
        { delete: keys.health(device.id) },
      ),
    claim: (deviceId, jobId, claim) => {
      // Under the capacity after the claim: what is held now must be at most capacity - asked (absent: 0).
      const fits = (path: string, asked: number, capacity: number) =>
        asked > 0 ? c.or(c.absent(path), c.le(path, capacity - asked)) : undefined;
      return write(`claim GPU ${claim.gpus.join(", ") || "none"} of device ${deviceId} for job ${jobId}`, {
        update: keys.device(deviceId),
        // Two jobs racing for the same GPU: each index may be set only while absent, all in one write; two
        // racing for the last CPUs: the second one's count no longer fits.
        changes: {
          set: Object.fromEntries(claim.gpus.map((i) => [`gpuOwners.${i}`, jobId])),
          add: { heldCpus: claim.cpus, heldMemoryGiB: claim.memoryGiB, heldJobs: 1 },
        },
        if: c.and(
          c.exists(),
          ...claim.gpus.map((i) => c.absent(`gpuOwners.${i}`)),
          fits("heldCpus", claim.cpus, claim.capacity.cpus),
          fits("heldMemoryGiB", claim.memoryGiB, claim.capacity.memoryGiB),
        ),
      });
    },
    release: (deviceId, jobId, gpus, held) =>
      write(`give back GPU ${gpus.join(", ") || "none"} of device ${deviceId} from job ${jobId}`, {
        update: keys.device(deviceId),
        // Only what this job holds: an index given to another job stays with it.
        changes: {
          ...(gpus.length ? { remove: gpus.map((i) => `gpuOwners.${i}`) } : {}),
          ...(held ? { add: { heldCpus: -held.cpus, heldMemoryGiB: -held.memoryGiB, heldJobs: -1 } } : {}),
        },
        if: c.and(c.exists(), ...gpus.map((i) => c.eq(`gpuOwners.${i}`, jobId))),
      }),
    // An application and a job (or another application) racing for an index: it is set only while absent.
    appGpus: (deviceId, appId, claim, release) => {
      const owner = appGpuOwner(appId);
      return write(`GPUs of device ${deviceId} for application ${appId}`, {
        update: keys.device(deviceId),
        changes: {
          ...(claim.length ? { set: Object.fromEntries(claim.map((i) => [`gpuOwners.${i}`, owner])) } : {}),
          ...(release.length ? { remove: release.map((i) => `gpuOwners.${i}`) } : {}),
        },
        if: c.and(
          c.exists(),
          ...claim.map((i) => c.absent(`gpuOwners.${i}`)),
          ...release.map((i) => c.eq(`gpuOwners.${i}`, owner)),
        ),
      });
    },
    // Two moves racing: the second finds the device no longer in `from` and decides again, so no group's
    // count is given back twice (test/unit/scheduling.test.ts makes the race happen).
    moveGroup: (device, from, to, at) =>
      write(`move device ${device.id} from node group ${from} to ${to}`, {
        update: keys.device(device.id),
        changes: { set: { nodeGroup: to, updatedAt: at } },
        if: c.and(c.exists(), c.eq("workspaceId", device.workspaceId), c.eq("nodeGroup", from)),
      }),
    lastSeen: (id, lastSeenAt) =>
      // Its presence item as read (none yet: it was never seen after its login).
      write(`device ${id} unseen since ${lastSeenAt}`, {
        check: keys.presence(id),
        if: c.or(c.absent(), c.eq("lastSeenAt", lastSeenAt)),
      }),
    exists: (id, workspaceId) =>
      write(`device ${id} exists`, {
        check: keys.device(id),
        if: c.and(c.exists(), c.eq("workspaceId", workspaceId)),
      }),
    async pulse(at, gapMs) {
      const item = await store.get(keys.meta("PULSE"));
      const last = item ? parseItem(Pulse, "control plane pulse", item) : undefined;
      const resumed = !last || Date.parse(at) - Date.parse(last.lastAt) > gapMs;
      const since = resumed ? at : last.since;
      // Sweeps of several servers may overlap: the last writer wins, and they agree within a sweep.
      await store.put(itemOf(keys.meta("PULSE"), { since, lastAt: at }));
      return { since, lastAt: at, resumed };
    },
    async lastPulse() {
      const item = await store.get(keys.meta("PULSE"));
      return item ? parseItem(Pulse, "control plane pulse", item) : undefined;
    },
  };
}
