import { z } from "@hono/zod-openapi";
import { DEVICE_STATUSES, SCHEDULING } from "../domain/device.ts";
import { DEVICE_HEALTH_STATES, DeviceHealthSummary } from "../domain/gpu-health.ts";
import { MAX_DEVICE_LABELS } from "../domain/labels.ts";
import { BooleanQuery, Id, PageQuery, pageOf } from "./common.ts";
import { LabelsInput, StringMap } from "./labels.ts";

const GpuView = z.object({
  index: z.number(),
  uuid: z.string().optional(),
  product: z.string().optional(),
  memoryBytes: z.number().optional(),
  busId: z.string().optional(),
});

export const DeviceHealthSummaryView = DeviceHealthSummary.extend({}).openapi("DeviceHealthSummary", {
  description:
    "the worst component's state and reason; unhealthyGpus are skipped by placement, and a deviceUnhealthy device as a whole",
});

export const DeviceView = z
  .object({
    id: z.string().openapi({ description: "the machine id the agent logged in with" }),
    name: z.string(),
    workspaceId: z.string(),
    nodeGroup: z.string(),
    registrationTokenId: z.string(),
    labels: StringMap,
    environmentVariables: StringMap.optional().openapi({
      description:
        "what its workloads inherit from its registration token (admin keys only: values may be secrets)",
    }),
    status: z.enum(DEVICE_STATUSES),
    lastSeenAt: z.string(),
    info: z.object({
      hostname: z.string().optional(),
      architecture: z.string().optional(),
      osImage: z.string().optional(),
      kernelVersion: z.string().optional(),
      cpu: z.object({ model: z.string().optional(), logicalCores: z.number().optional() }),
      memoryBytes: z.number().optional(),
      gpus: z.array(GpuView),
      gpuDriverVersion: z.string().optional(),
      cudaVersion: z.string().optional(),
      containerRuntime: z.string().optional(),
      publicIP: z.string().optional(),
      privateIP: z.string().optional(),
      region: z.string().optional(),
      provider: z.string().optional(),
    }),
    resources: z.object({ cpu: z.number().optional(), memory: z.number().optional(), gpus: z.number() }),
    allocated: z.object({ gpus: z.number() }),
    agentVersion: z.string().optional(),
    protocol: z.number().int().openapi({
      description:
        "the agent protocol of its last login: 2 signs everything it is sent over canonical bytes; 1 is GPUd and agents before 0.2",
    }),
    scheduling: z.enum(SCHEDULING).openapi({
      description:
        "eligible; cordoned: no new jobs (berth devices cordon); draining: no new jobs, and its jobs are stopped at drain.deadline",
    }),
    drain: z.object({ startedAt: z.string(), deadline: z.string() }).optional(),
    held: z
      .object({ cpus: z.number(), memoryGiB: z.number(), jobs: z.number() })
      .openapi({ description: "what the jobs placed on it hold (GPUs are in allocated)" }),
    health: DeviceHealthSummaryView.optional().openapi({
      description: "GPU health from its agent's last report (absent: it never reported)",
    }),
    silentSince: z.string().optional().openapi({
      description:
        "offline devices: when their silence is counted from (their last contact, or the control plane's return after an outage, whichever is later); a running job is lost once the device has been silent for its disconnect.lostAfterSeconds",
    }),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi("Device");
export type DeviceView = z.infer<typeof DeviceView>;

export const UpdateDeviceRequest = z
  .object({
    name: z.string().trim().min(1, "must not be empty").max(100).optional(),
    labels: LabelsInput(MAX_DEVICE_LABELS).optional(),
    nodeGroup: Id.optional().openapi({ description: "move it to this node group (by name)" }),
  })
  .openapi("UpdateDeviceRequest");

export const DrainDeviceRequest = z
  .object({
    deadlineSeconds: z
      .number()
      .int("must be a whole number of seconds")
      .min(0)
      .max(2_592_000, "must be at most 2592000 seconds (30 days)")
      .default(3600)
      .openapi({
        description: "running jobs may finish until then; then they are stopped (0: stop them now)",
      }),
  })
  .openapi("DrainDeviceRequest");
export type UpdateDeviceRequest = z.infer<typeof UpdateDeviceRequest>;

/** A `key=value` label filter: a label key (with its prefix) and value are at most 147 characters. */
const LabelFilter = z.string().max(256, "must be at most 256 characters");
const oneOrMany = z.union([LabelFilter, z.array(LabelFilter).max(MAX_DEVICE_LABELS)]).optional();

export const ListDevicesQuery = PageQuery.extend({
  label: oneOrMany.openapi({
    param: { name: "label", in: "query" },
    description: "key=value; repeat for several (all must match)",
  }),
  labels: z
    .string()
    .max(4096, "must be at most 4096 characters")
    .optional()
    .openapi({ param: { name: "labels", in: "query" }, description: 'a JSON object, e.g. {"gpu":"a100"}' }),
  nodeGroup: Id.optional().openapi({ param: { name: "nodeGroup", in: "query" } }),
  status: z
    .enum(DEVICE_STATUSES)
    .optional()
    .openapi({ param: { name: "status", in: "query" } }),
  search: z
    .string()
    .max(256, "must be at most 256 characters")
    .optional()
    .openapi({ param: { name: "search", in: "query" }, description: "substring of name, hostname or id" }),
  health: z
    .enum(DEVICE_HEALTH_STATES)
    .optional()
    .openapi({
      param: { name: "health", in: "query" },
      description:
        "devices whose health summary is in this state (a device that never reported matches none)",
    }),
});

export const DevicePage = pageOf(DeviceView).openapi("DevicePage");

export const OPERATION_STATES = [
  "pending",
  "delivered",
  "started",
  "done",
  "rejected",
  "failed",
  "expired",
] as const;

/** An operation on a device (applications.md §8): a reboot, as its signed reservation goes. */
export const DeviceOperationView = z
  .object({
    id: z.string(),
    deviceId: z.string(),
    action: z.enum(["reboot", "set-healthy"]),
    reason: z.string(),
    state: z.enum(OPERATION_STATES),
    message: z.string().openapi({ description: "why it was rejected or failed" }),
    issuedAt: z.string(),
    expiresAt: z.string().openapi({ description: "a device that has not started it by then never does" }),
    startedAt: z.string().optional(),
    endedAt: z.string().optional(),
    issuedBy: z.string(),
  })
  .openapi("DeviceOperation");
export type DeviceOperationView = z.infer<typeof DeviceOperationView>;

export const DeviceOperationList = z
  .object({ items: z.array(DeviceOperationView) })
  .openapi("DeviceOperationList");

export const RebootDeviceRequest = z
  .object({ reason: z.string().max(500).default("") })
  .openapi("RebootDeviceRequest");

export const RebootDeviceQuery = z.object({
  force: BooleanQuery("force", false, "reboot a device that runs jobs (they fail)"),
});
