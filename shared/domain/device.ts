import { z } from "zod";
import { DeviceHealthSummary } from "./gpu-health.ts";

export const GpuInfo = z.object({
  index: z.number().int(),
  uuid: z.string().optional(),
  product: z.string().optional(),
  memoryBytes: z.number().optional(),
  busId: z.string().optional(),
});
export type GpuInfo = z.infer<typeof GpuInfo>;

/** An image a device reports having (`docker image ls --digests`). */
export const DeviceImage = z.object({
  reference: z.string().max(1024),
  digest: z.string().max(200).optional(),
  sizeBytes: z.number().optional(),
});
export type DeviceImage = z.infer<typeof DeviceImage>;

/** What Berth knows of a machine, normalised from GPUd's or Berth's agent's machineInfo. */
export const DeviceInfo = z.object({
  hostname: z.string().optional(),
  architecture: z.string().optional(),
  osImage: z.string().optional(),
  kernelVersion: z.string().optional(),
  cpu: z.object({ model: z.string().optional(), logicalCores: z.number().optional() }).default({}),
  memoryBytes: z.number().optional(),
  gpus: z.array(GpuInfo).default([]),
  gpuDriverVersion: z.string().optional(),
  cudaVersion: z.string().optional(),
  containerRuntime: z.string().optional(),
  publicIP: z.string().optional(),
  privateIP: z.string().optional(),
  region: z.string().optional(),
  zone: z.string().optional(),
  provider: z.string().optional(),
  providerInstanceId: z.string().optional(),
  /** Container images it holds (labs' prepuller, specs/labs.md §7): at most 500, as its agent reports them. */
  images: z.array(DeviceImage).max(500).optional(),
});
export type DeviceInfo = z.infer<typeof DeviceInfo>;

export const DeviceResources = z.object({
  cpu: z.number().optional(),
  memory: z.number().optional(),
  gpus: z.number().int().default(0),
});
export type DeviceResources = z.infer<typeof DeviceResources>;

/** A device as stored. Its id is the machine id handed to the agent at first login. */
export const Device = z.object({
  id: z.string(),
  name: z.string(),
  workspaceId: z.string(),
  nodeGroup: z.string(),
  registrationTokenId: z.string(),
  labels: z.record(z.string(), z.string()).default({}),
  environmentVariables: z.record(z.string(), z.string()).default({}),
  info: DeviceInfo,
  resources: DeviceResources,
  /** GPU index → the job holding it. Claimed and released with conditional writes (no GPU is given twice). */
  gpuOwners: z.record(z.string(), z.string()).default({}),
  /**
   * What the jobs placed on it hold, claimed with their GPUs and given back at their end: CPUs, memory, and
   * how many jobs (a drain is over when none is left). Jobs placed before these counters existed are not in them.
   */
  heldCpus: z.number().default(0),
  heldMemoryGiB: z.number().default(0),
  heldJobs: z.number().int().default(0),
  agentVersion: z.string().optional(),
  /** ed25519 public key (base64) that verifies the node's results; set by Berth's agent. */
  publicKey: z.string().optional(),
  /** X25519 public key (base64) that secrets for the node are encrypted to. */
  encryptionKey: z.string().optional(),
  /** Cordoned (`ineligible`): no new placements; running jobs carry on. Absent: eligible. */
  eligibility: z.enum(["eligible", "ineligible"]).optional(),
  /** A drain in progress (Nomad's node drain): cordoned, and its jobs are stopped at `deadline`. */
  drain: z.object({ startedAt: z.iso.datetime(), deadline: z.iso.datetime() }).optional(),
  /** The agent protocol negotiated at its last login (absent: 1, GPUd and agents before 0.2). */
  protocol: z.number().int().optional(),
  /** The session token is derived from (server key, id, generation); only its hash is kept. */
  sessionGeneration: z.number().int(),
  sessionTokenHash: z.string(),
  /** GPU health, summarised from its agent's last report (specs/gpu-health.md §5). Absent: never reported. */
  health: DeviceHealthSummary.optional(),
  /** When the agent was last heard from (kept in the device's presence item). */
  lastSeenAt: z.iso.datetime(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});
export type Device = z.infer<typeof Device>;

export const DEVICE_STATUSES = ["online", "offline"] as const;
export type DeviceStatus = (typeof DEVICE_STATUSES)[number];

/**
 * How placement treats a device: `eligible`, `cordoned` (no new jobs) or `draining` (no new jobs, and its
 * jobs end by the drain's deadline). A drain is over when no job is left on the device: it is cordoned
 * (applications stay, as a DaemonSet's pods do: their GPUs do not hold a drain).
 */
export const SCHEDULING = ["eligible", "cordoned", "draining"] as const;
export type Scheduling = (typeof SCHEDULING)[number];
export const scheduling = (
  d: Pick<Device, "eligibility" | "drain" | "heldJobs" | "gpuOwners">,
): Scheduling =>
  d.drain && (d.heldJobs > 0 || Object.values(d.gpuOwners).some((o) => !o.startsWith("app:")))
    ? "draining"
    : d.eligibility === "ineligible" || d.drain
      ? "cordoned"
      : "eligible";

/**
 * When a device's silence started, as far as losing its jobs goes (epoch ms): its last contact, or the
 * control plane's return after an outage (`pulseSince`), whichever is later.
 */
export const silentSince = (lastSeenAt: string, pulseSince: string | undefined): number =>
  Math.max(Date.parse(lastSeenAt), pulseSince ? Date.parse(pulseSince) : 0);

/** Online when seen within the heartbeat TTL. */
export const deviceStatus = (lastSeenAt: string, now: Date, ttlSeconds: number): DeviceStatus =>
  now.getTime() - Date.parse(lastSeenAt) <= ttlSeconds * 1000 ? "online" : "offline";
