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
  /** Name, labels, eligibility and drain (`null` removes a drain); NotFound unless it is in that workspace. */
  update(
    workspaceId: string,
    id: string,
    patch: Partial<Pick<Device, "name" | "labels" | "eligibility">> & { drain?: Device["drain"] | null },
    at: string,
  ): Promise<Device>;
  /** Moves a device to another node group, if it is still in `from` (commit with the groups' leave/join). */
  moveGroup(device: Pick<Device, "id" | "workspaceId">, from: string, to: string, at: string): Write;
  /** Login and heartbeat updates; throws NotFound when the device was deleted meanwhile. */
  refresh(id: string, fields: DeviceRefresh, at: string): Promise<Omit<Device, "lastSeenAt">>;
  /** Replaces the raw machine info kept for operators (undefined drops it). */
  saveMachineInfo(id: string, machineInfo: Record<string, unknown> | undefined): Promise<void>;
  /** Records that the agent was seen, at most once per `resolutionMs` (never for a deleted device). */
  seen(id: string, at: string, resolutionMs: number): Promise<void>;
  /** Deletes the device (fails unless it exists in its workspace), its presence and machine info. */
  delete(device: Pick<Device, "id" | "workspaceId">): Write;
  /**
   * Gives a job its GPU indices and what it holds (CPUs, memory GiB, and one job in `heldJobs`): fails unless
   * the device exists, none of the GPUs is taken, and the CPUs and memory still fit under `capacity`.
   */
  claim(deviceId: string, jobId: string, claim: DeviceClaim): Write;
  /**
   * Gives back what a claim gave: fails unless the device exists and the job holds every one of the GPUs.
   * `held` is absent for jobs placed before the counters existed (they give back GPUs only).
   */
  release(deviceId: string, jobId: string, gpus: number[], held?: JobHold): Write;
  /**
   * Moves an application's GPU claim on the device (owner `app:<id>`): `claim` indices each only while free,
   * `release` ones only while the application holds them; fails unless the device exists.
   */
  appGpus(deviceId: string, applicationId: string, claim: number[], release: number[]): Write;
  /** A condition: the device has not been seen since `lastSeenAt` (it is still silent). */
  lastSeen(id: string, lastSeenAt: string): Write;
  /** A condition: the device exists in that workspace (a reservation for it may be written). */
  exists(id: string, workspaceId: string): Write;
  /**
   * The control plane's pulse, written by every sweep: `since` is when it last came back after a gap longer
   * than `gapMs` with no sweep anywhere (an outage of every server), or its first sweep. Device silence is
   * counted from no earlier than `since`.
   */
  pulse(at: string, gapMs: number): Promise<ServicePulse>;
  /** The pulse as last written (undefined before the first sweep). */
  lastPulse(): Promise<ServicePulse | undefined>;
}

/** What a placed job holds on its device besides GPUs. */
export interface JobHold {
  cpus: number;
  memoryGiB: number;
}

export interface DeviceClaim extends JobHold {
  gpus: number[];
  /** The device's CPUs and memory: the claim fails if the held totals would pass them. */
  capacity: JobHold;
}

export interface ServicePulse {
  /** Since when the control plane has been up without a gap. */
  since: string;
  /** The last sweep. */
  lastAt: string;
  /** This pulse found a gap (the control plane is back after an outage). */
  resumed?: boolean;
}
