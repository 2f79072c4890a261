import { z } from "zod";

export const GpuInfo = z.object({
  index: z.number().int(),
  uuid: z.string().optional(),
  product: z.string().optional(),
  memoryBytes: z.number().optional(),
  busId: z.string().optional(),
});
export type GpuInfo = z.infer<typeof GpuInfo>;

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
  agentVersion: z.string().optional(),
  /** ed25519 public key (base64) that verifies the node's results; set by Berth's agent. */
  publicKey: z.string().optional(),
  /** X25519 public key (base64) that secrets for the node are encrypted to. */
  encryptionKey: z.string().optional(),
  /** The agent protocol negotiated at its last login (absent: 1, GPUd and agents before 0.2). */
  protocol: z.number().int().optional(),
  /** The session token is derived from (server key, id, generation); only its hash is kept. */
  sessionGeneration: z.number().int(),
  sessionTokenHash: z.string(),
  /** When the agent was last heard from (kept in the device's presence item). */
  lastSeenAt: z.iso.datetime(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});
export type Device = z.infer<typeof Device>;

export const DEVICE_STATUSES = ["online", "offline"] as const;
export type DeviceStatus = (typeof DEVICE_STATUSES)[number];

/** Online when seen within the heartbeat TTL. */
export const deviceStatus = (lastSeenAt: string, now: Date, ttlSeconds: number): DeviceStatus =>
  now.getTime() - Date.parse(lastSeenAt) <= ttlSeconds * 1000 ? "online" : "offline";
