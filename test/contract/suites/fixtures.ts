import type { Device } from "../../../shared/domain/device.ts";
import { newId } from "../../../shared/domain/ids.ts";
import type { NodeGroup } from "../../../shared/domain/node-group.ts";
import type { RegistrationToken } from "../../../shared/domain/registration-token.ts";

const at = "2026-11-01T00:00:00.000Z";

export const aToken = (workspaceId: string, extra: Partial<RegistrationToken> = {}): RegistrationToken => ({
  id: newId(),
  workspaceId,
  name: "lab",
  description: "",
  labels: { rack: "r1" },
  environmentVariables: { A: "1" },
  namingStrategy: "default",
  tokenHash: "cd".repeat(32),
  deviceCount: 0,
  createdAt: at,
  updatedAt: at,
  ...extra,
});

export const aGroup = (workspaceId: string, name: string, extra: Partial<NodeGroup> = {}): NodeGroup => ({
  id: newId(),
  name,
  workspaceId,
  description: "",
  labels: {},
  deviceCount: 0,
  createdAt: at,
  updatedAt: at,
  ...extra,
});

export const aDevice = (workspaceId: string, extra: Partial<Device> = {}): Device => ({
  id: newId(),
  name: "node",
  workspaceId,
  nodeGroup: "default",
  registrationTokenId: newId(),
  heldCpus: 0,
  heldMemoryGiB: 0,
  heldJobs: 0,
  labels: { gpu: "a100" },
  environmentVariables: {},
  info: { cpu: {}, gpus: [{ index: 0, uuid: "GPU-0" }] },
  resources: { gpus: 1 },
  gpuOwners: {},
  sessionGeneration: 1,
  sessionTokenHash: "ef".repeat(32),
  lastSeenAt: at,
  createdAt: at,
  updatedAt: at,
  ...extra,
});
