import type { Device } from "../../domain/device.ts";
import type { Page, PageRequest } from "../pagination.ts";
import type { Write } from "./write.ts";

/** What a login or heartbeat changes on an existing device. */
export type DeviceRefresh = Partial<
  Pick<
    Device,
    | "info"
    | "resources"
    | "labels"
    | "agentVersion"
    | "publicKey"
    | "encryptionKey"
    | "protocol"
    | "sessionGeneration"
    | "sessionTokenHash"
  >
>;

/**
 * Devices. A device's presence (`lastSeenAt`) and its raw machine info are items of their own: presence is
 * written every few tens of seconds, and must not rewrite the device; machine info is large and only kept.
 */
export interface DeviceRepository {
  /** Stores a new device (failing on a taken id), with its presence and machine info. */
  create(device: Device, machineInfo?: Record<string, unknown>): Write;
  /** The device with its presence. */
  get(id: string): Promise<Device | undefined>;
  /** The device item alone, without its presence: what authentication needs (one read). */
  identity(id: string): Promise<Omit<Device, "lastSeenAt"> | undefined>;
  /** A workspace's devices, oldest first; `keep` filters in memory without breaking pages. */
  list(workspaceId: string, page: PageRequest, keep?: (d: Device) => boolean): Promise<Page<Device>>;
  /** Every device of a workspace (placement reads them all). */
  listAll(workspaceId: string): Promise<Device[]>;
  /** Name and labels; throws NotFound unless the device exists in that workspace. */
  update(
    workspaceId: string,
    id: string,
    patch: Partial<Pick<Device, "name" | "labels">>,
    at: string,
  ): Promise<Device>;
  /** Login and heartbeat updates; throws NotFound when the device was deleted meanwhile. */
  refresh(id: string, fields: DeviceRefresh, at: string): Promise<Omit<Device, "lastSeenAt">>;
  /** Replaces the raw machine info kept for operators (undefined drops it). */
  saveMachineInfo(id: string, machineInfo: Record<string, unknown> | undefined): Promise<void>;
  /** Records that the agent was seen, at most once per `resolutionMs` (never for a deleted device). */
  seen(id: string, at: string, resolutionMs: number): Promise<void>;
  /** Deletes the device (fails unless it exists in its workspace), its presence and machine info. */
  delete(device: Pick<Device, "id" | "workspaceId">): Write;
  /** Gives GPU indices to a job: fails unless the device exists and none of them is taken. */
  claimGpus(deviceId: string, indices: number[], jobId: string): Write;
  /** Gives back GPU indices: fails unless the device exists and the job holds every one of them. */
  releaseGpus(deviceId: string, indices: number[], jobId: string): Write;
  /** A condition: the device exists in that workspace (a reservation for it may be written). */
  exists(id: string, workspaceId: string): Write;
}
