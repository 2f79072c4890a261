import { z } from "@hono/zod-openapi";
import {
  APPLICATION_STATUSES,
  DEPLOYMENT_STATES,
  RESTART_POLICIES,
  SCHEDULING_TYPES,
  WORKLOAD_STATES,
} from "../domain/application.ts";
import { ENV_NAME } from "../domain/labels.ts";
import { NamespaceName } from "../domain/namespace.ts";
import { MAX_ARG_BYTES, MAX_ENV_ENTRY_BYTES, MAX_IMAGE_LENGTH } from "../domain/reservation-data.ts";
import { SecretName } from "../domain/secret.ts";
import { parseMount, parsePort, SpecError } from "../domain/spec-strings.ts";
import { BooleanQuery, Id, PageQuery, pageOf } from "./common.ts";
import { LabelsInput } from "./labels.ts";
import { RegistryAuthentication } from "./namespaces.ts";

/** `"8080"` or `"18080:8080"` (`host:container`, Synpse's order), `/udp` optional. */
const PortSpec = z.string().transform((input, ctx) => {
  try {
    const p = parsePort(input);
    return {
      containerPort: p.targetPort,
      ...(p.publishedPort === undefined ? { hostPort: p.targetPort } : { hostPort: p.publishedPort }),
      protocol: p.protocol === "udp" ? ("udp" as const) : ("tcp" as const),
    };
  } catch (err) {
    ctx.addIssue({ code: "custom", message: err instanceof SpecError ? err.message : "invalid port spec" });
    return z.NEVER;
  }
});

const Arg = z.string().max(MAX_ARG_BYTES);

/** `"/host:/ctr[:ro|rw]"` (jobs.md §5's mount rules and messages). */
const VolumeSpec = z
  .string()
  .max(2 * 4096 + 3)
  .transform((input, ctx) => {
    try {
      const m = parseMount(input);
      return { source: m.mountSource.source.path, target: m.mountPath, readOnly: m.readOnly };
    } catch (err) {
      ctx.addIssue({
        code: "custom",
        message: err instanceof SpecError ? err.message : "invalid mount spec",
      });
      return z.NEVER;
    }
  });

/** A Linux capability, as Docker takes it (`NET_ADMIN`, `CAP_SYS_PTRACE`, `ALL`). */
const Capability = z.string().regex(/^[A-Za-z_]{1,64}$/, "must be a capability name such as NET_ADMIN");

const Container = z
  .object({
    name: z
      .string()
      .regex(
        /^[a-z0-9][a-z0-9-]{0,30}$/,
        "must be 1-31 of a-z, 0-9 and '-', starting with a letter or digit",
      ),
    image: z.string().min(1).max(MAX_IMAGE_LENGTH).optional(),
    command: Arg.optional().openapi({ description: "a shell command (run with sh -c)" }),
    entrypoint: z.array(Arg).max(64).default([]),
    args: z.array(Arg).max(512).default([]),
    env: z
      .array(
        z.object({
          name: z.string().regex(ENV_NAME, "must match [A-Za-z_][A-Za-z0-9_]*"),
          value: z.string().max(MAX_ENV_ENTRY_BYTES).optional(),
          fromSecret: SecretName.optional(),
        }),
      )
      .max(256)
      .default([]),
    secrets: z
      .array(z.object({ name: SecretName, filepath: z.string().min(1).max(4096) }))
      .max(64)
      .default([]),
    ports: z.array(PortSpec).max(64).default([]),
    gpus: z.union([z.literal("all"), z.object({ count: z.number().int().min(1).max(64) })]).optional(),
    workDir: z.string().regex(/^\//, "must be an absolute path").optional(),
    user: z.string().max(64).optional(),
    restartPolicy: z
      .object({
        name: z.enum(RESTART_POLICIES, {
          error: `restartPolicy.name must be one of ${RESTART_POLICIES.join(", ")}`,
        }),
        maximumRetryCount: z.number().int().min(0).max(1000).optional(),
      })
      .default({ name: "always" }),
    networkMode: z
      .enum(["bridge", "host", "isolated"], { error: "networkMode must be bridge, host or isolated" })
      .optional()
      .openapi({ description: "bridge (default: the application's own network), host, or isolated" }),
    hostname: z
      .string()
      .regex(
        /^[A-Za-z0-9]([A-Za-z0-9.-]{0,61}[A-Za-z0-9])?$/,
        "must be a host name (letters, digits, '-', '.')",
      )
      .optional(),
    volumes: z.array(VolumeSpec).max(64).default([]),
    privileged: z.boolean().default(false),
    capAdd: z.array(Capability).max(64).default([]),
    capDrop: z.array(Capability).max(64).default([]),
    shmSize: z.number().int().min(1).optional().openapi({ description: "bytes of /dev/shm" }),
    memoryHardLimit: z
      .number()
      .int()
      .min(6 * 1024 * 1024, "must be at least 6291456 bytes (Docker's minimum)")
      .optional()
      .openapi({ description: "bytes: the container's memory limit (docker run --memory)" }),
    forcePull: z
      .boolean()
      .default(false)
      .openapi({ description: "pull the image even when the device has it" }),
    imagePullTimeout: z
      .string()
      .optional()
      .openapi({ description: "how long the pull may take, Go-style (`90s`, `15m`, `1h30m`), at most 2h" }),
    auth: RegistryAuthentication.optional().openapi({
      description:
        "credentials to pull this container's image (the namespace's registryAuthentication is used too)",
    }),
    // Accepted by Synpse, not (yet) by Berth: named so that a spec using them is refused, not half-applied.
    volumeDriver: z.unknown().optional(),
    securityOpt: z.unknown().optional(),
  })
  .openapi("ApplicationContainer");

const SchedulingObject = z.object({
  type: z.enum(SCHEDULING_TYPES, { error: "type must be NoDevices, AllDevices or Conditional" }).optional(),
  selectors: LabelsInput().optional(),
  nodeGroups: z.array(z.string().max(63)).max(32).default([]),
  selector: z.unknown().optional().openapi({ description: "refused: the field is `selectors`" }),
});
const SchedulingInput = SchedulingObject.default({ nodeGroups: [] });

const MaxUnavailable = z.union([
  z.number().int().min(1),
  z.string().regex(/^([1-9][0-9]?|100)%$/, "must be a count or 1%-100%"),
]);
/** Seconds a deployment runs before it counts as available (and frees the rollout's budget), as a DaemonSet's. */
const MinReadySeconds = z.number().int().min(0).max(3600);
const Rollout = z.object({
  maxUnavailable: MaxUnavailable.default("100%"),
  minReadySeconds: MinReadySeconds.default(0),
});

export const CreateApplicationRequest = z
  .object({
    name: NamespaceName,
    description: z.string().max(1000).default(""),
    type: z.string().default("container").openapi({ description: "container (default) or process" }),
    scheduling: SchedulingInput,
    spec: z.object({ containers: z.array(Container).max(8, "at most 8 containers").default([]) }),
    rollout: Rollout.default({ maxUnavailable: "100%", minReadySeconds: 0 }),
    stopGracePeriodSeconds: z.number().int().min(0).max(3600).default(10),
  })
  .openapi("CreateApplicationRequest");
export type CreateApplicationRequest = z.infer<typeof CreateApplicationRequest>;

export const UpdateApplicationRequest = z
  .object({
    description: z.string().max(1000).optional(),
    scheduling: SchedulingObject.optional(),
    spec: z.object({ containers: z.array(Container).max(8, "at most 8 containers") }).optional(),
    rollout: z
      .object({ maxUnavailable: MaxUnavailable.optional(), minReadySeconds: MinReadySeconds.optional() })
      .optional(),
    stopGracePeriodSeconds: z.number().int().min(0).max(3600).optional(),
    expectedVersion: z.number().int().min(1).optional(),
  })
  .openapi("UpdateApplicationRequest");
export type UpdateApplicationRequest = z.infer<typeof UpdateApplicationRequest>;

const WorkloadStatusView = z.object({
  name: z.string(),
  state: z.enum(WORKLOAD_STATES),
  message: z.string(),
  timestamp: z.string().optional(),
  startedAt: z.string().optional(),
  completedAt: z.string().optional(),
  restartCount: z.number().int(),
  exitCode: z.number().int().optional(),
});

export const DeploymentView = z
  .object({
    applicationId: z.string(),
    deviceId: z.string(),
    version: z.number().int(),
    configVersion: z.number().int(),
    reservationId: z.string(),
    state: z.enum(DEPLOYMENT_STATES),
    message: z.string(),
    containers: z.array(WorkloadStatusView),
    availableSince: z.string().optional(),
    gpus: z
      .array(z.number().int())
      .optional()
      .openapi({ description: "GPU indices it holds on the device (its containers' gpus: {count})" }),
    updatedAt: z.string(),
  })
  .openapi("Deployment");
export type DeploymentView = z.infer<typeof DeploymentView>;

export const ApplicationView = z
  .object({
    id: z.string(),
    name: z.string(),
    namespace: z.string(),
    description: z.string(),
    type: z.enum(["container", "process"]),
    version: z.number().int(),
    configVersion: z.number().int(),
    scheduling: z.object({
      type: z.enum(SCHEDULING_TYPES),
      selectors: z.record(z.string(), z.string()),
      nodeGroups: z.array(z.string()),
    }),
    spec: z.object({ containers: z.array(z.record(z.string(), z.unknown())) }),
    rollout: z.object({
      maxUnavailable: z.union([z.number(), z.string()]),
      minReadySeconds: z.number().int(),
    }),
    stopGracePeriodSeconds: z.number().int(),
    status: z.enum(APPLICATION_STATUSES),
    deploymentStatus: z.object({
      pending: z.number().int(),
      available: z.number().int(),
      total: z.number().int(),
      updated: z.number().int(),
      failed: z.number().int(),
      unknown: z.number().int(),
    }),
    createdAt: z.string(),
    updatedAt: z.string(),
    createdBy: z.string(),
  })
  .openapi("Application");
export type ApplicationView = z.infer<typeof ApplicationView>;

export const ApplicationPage = pageOf(ApplicationView).openapi("ApplicationPage");
export const DeploymentList = z.object({ items: z.array(DeploymentView) }).openapi("DeploymentList");
export const ListApplicationsQuery = PageQuery;
export const ListDeploymentsQuery = z.object({
  state: z
    .enum(DEPLOYMENT_STATES)
    .optional()
    .openapi({ param: { name: "state", in: "query" } }),
});

export const ApplicationParams = z.object({
  ns: Id.openapi({ param: { name: "ns", in: "path" } }),
  app: Id.openapi({ param: { name: "app", in: "path" }, description: "name or id" }),
});

export const DeploymentParams = ApplicationParams.extend({
  device: Id.openapi({ param: { name: "device", in: "path" } }),
});

/** Where a log follower resumes: `<reservation id>.<seq>` (the `id:` of the last event received). */
export const LogCursor = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}\.\d{1,15}$/, "a log cursor is the id of the last event received")
  .transform((v) => {
    const [reservationId, seq] = v.split(".");
    return { reservationId: reservationId!, seq: Number(seq) };
  });

export const AppLogsQuery = z.object({
  container: z
    .string()
    .max(31)
    .optional()
    .openapi({ param: { name: "container", in: "query" }, description: "one container's lines only" }),
  stream: z
    .enum(["stdout", "stderr", "mixed"])
    .default("mixed")
    .openapi({ param: { name: "stream", in: "query" } }),
  tail: z.coerce
    .number()
    .int()
    .min(0)
    .max(100_000)
    .optional()
    .openapi({ param: { name: "tail", in: "query" }, description: "the last N lines only" }),
  follow: BooleanQuery(
    "follow",
    false,
    "server-sent `output` events as lines arrive, until the deployment is removed",
  ),
  after: LogCursor.optional().openapi({
    param: { name: "after", in: "query" },
    description: "with follow=true: resume after this cursor; a `Last-Event-ID` header wins over it",
  }),
});

export const AppLogLine = z
  .object({
    seqId: z.number().int(),
    stream: z.enum(["stdout", "stderr"]),
    container: z.string().optional(),
    data: z.string(),
  })
  .openapi("ApplicationLogLine");

export const AppLogs = z
  .object({ output: z.array(AppLogLine), reservationId: z.string() })
  .openapi("ApplicationLogs");

export const DeviceApplicationView = DeploymentView.extend({
  name: z.string(),
  namespace: z.string(),
}).openapi("DeviceApplication");
export type DeviceApplicationView = z.infer<typeof DeviceApplicationView>;
export const DeviceApplicationList = z
  .object({ items: z.array(DeviceApplicationView) })
  .openapi("DeviceApplicationList");
