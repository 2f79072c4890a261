import { createHash } from "node:crypto";
import { z } from "zod";
import { labelsMatch } from "./labels.ts";
import { type Namespace, RegistryAuthentication } from "./namespace.ts";

/**
 * Applications (specs/applications.md): long-running workloads on every device that matches their
 * scheduling, one deployment per (application, device). Synpse's object, with Berth's `process` type for
 * hosts without a container engine (the agent supervises the programs with the same restart policies).
 */

export const SCHEDULING_TYPES = ["NoDevices", "AllDevices", "Conditional"] as const;
export type SchedulingType = (typeof SCHEDULING_TYPES)[number];

/** Docker's restart policy names (Synpse's helpers "tell the Docker daemon"); the agent applies them to processes. */
export const RESTART_POLICIES = ["always", "unless-stopped", "on-failure", "no"] as const;
export const RestartPolicy = z.object({
  name: z.enum(RESTART_POLICIES),
  maximumRetryCount: z.number().int().min(0).optional(),
});
export type RestartPolicy = z.infer<typeof RestartPolicy>;

export const APPLICATION_TYPES = ["container", "process"] as const;
export type ApplicationType = (typeof APPLICATION_TYPES)[number];

export const Scheduling = z.object({
  type: z.enum(SCHEDULING_TYPES),
  selectors: z.record(z.string(), z.string()).default({}),
  /** Berth's: devices of these node groups only (any, when empty). */
  nodeGroups: z.array(z.string()).default([]),
});
export type Scheduling = z.infer<typeof Scheduling>;

/** One container (or, for a `process` application, one program) of an application, as stored. */
export const AppContainer = z.object({
  name: z.string(),
  image: z.string().optional(),
  command: z.string().optional(),
  entrypoint: z.array(z.string()).default([]),
  args: z.array(z.string()).default([]),
  env: z
    .array(z.object({ name: z.string(), value: z.string().optional(), fromSecret: z.string().optional() }))
    .default([]),
  secrets: z.array(z.object({ name: z.string(), filepath: z.string() })).default([]),
  ports: z
    .array(
      z.object({
        containerPort: z.number().int(),
        hostPort: z.number().int().optional(),
        protocol: z.enum(["tcp", "udp"]).default("tcp"),
      }),
    )
    .default([]),
  gpus: z.union([z.literal("all"), z.object({ count: z.number().int().min(1) })]).optional(),
  workDir: z.string().optional(),
  user: z.string().optional(),
  restartPolicy: RestartPolicy.default({ name: "always" }),
  /** Synpse's: `bridge` (the application's own network), `host`, or `isolated` (Docker's default bridge). */
  networkMode: z.enum(["bridge", "host", "isolated"]).optional(),
  /** Synpse's `DockerAuth`: credentials to pull this container's image, the password from a secret. */
  auth: RegistryAuthentication.optional(),
  // Container settings, each stored only when given (so that the spec hash of those without them stays).
  hostname: z.string().optional(),
  /** Host directories bind-mounted into the container. */
  volumes: z
    .array(z.object({ source: z.string(), target: z.string(), readOnly: z.boolean().default(false) }))
    .optional(),
  privileged: z.boolean().optional(),
  capAdd: z.array(z.string()).optional(),
  capDrop: z.array(z.string()).optional(),
  /** Bytes. */
  shmSize: z.number().int().optional(),
  /** Bytes. */
  memoryHardLimit: z.number().int().optional(),
  forcePull: z.boolean().optional(),
  /** Seconds (given as a Go-style duration, at most 2 h). */
  imagePullTimeoutSeconds: z.number().int().optional(),
});
export type AppContainer = z.infer<typeof AppContainer>;

export const APPLICATION_STATUSES = ["active", "deleting"] as const;

export const Application = z.object({
  id: z.string(),
  workspaceId: z.string(),
  namespace: z.string(),
  name: z.string(),
  description: z.string().default(""),
  type: z.enum(APPLICATION_TYPES),
  /** +1 when `spec` or `scheduling` change. */
  version: z.number().int().min(1),
  /** +1 on a restart, or when a secret it uses changes: redeploy everywhere with the same spec. */
  configVersion: z.number().int().min(1),
  scheduling: Scheduling,
  spec: z.object({ containers: z.array(AppContainer) }),
  rollout: z.object({
    maxUnavailable: z.union([z.number().int().min(1), z.string()]).default("100%"),
    /** Seconds running before a deployment is available (0: at once). */
    minReadySeconds: z.number().int().min(0).default(0),
  }),
  stopGracePeriodSeconds: z.number().int().min(0).default(10),
  status: z.enum(APPLICATION_STATUSES),
  /** Bumped on any change: what conditional updates check. */
  revision: z.number().int().min(1),
  createdAt: z.string(),
  updatedAt: z.string(),
  createdBy: z.string(),
});
export type Application = z.infer<typeof Application>;

/** Synpse's `WorkloadState` strings. */
export const WORKLOAD_STATES = [
  "pending",
  "created",
  "running",
  "stopped",
  "deleting",
  "failed",
  "unknown",
  "exited",
] as const;
export type WorkloadState = (typeof WORKLOAD_STATES)[number];

/** Synpse's `WorkloadStatus`, plus restarts and the exit code. */
export const WorkloadStatus = z.object({
  name: z.string(),
  state: z.enum(WORKLOAD_STATES),
  message: z.string().default(""),
  timestamp: z.string().optional(),
  startedAt: z.string().optional(),
  completedAt: z.string().optional(),
  restartCount: z.number().int().default(0),
  exitCode: z.number().int().optional(),
});
export type WorkloadStatus = z.infer<typeof WorkloadStatus>;

export const DEPLOYMENT_STATES = ["pending", "running", "failed", "unknown", "deleting"] as const;
export type DeploymentState = (typeof DEPLOYMENT_STATES)[number];

/** One application on one device (`APP#<app>` / `DEP#<device>`). */
export const Deployment = z.object({
  applicationId: z.string(),
  workspaceId: z.string(),
  deviceId: z.string(),
  version: z.number().int(),
  configVersion: z.number().int(),
  /** The reservation this deployment runs (or intends to: it is written after the deployment). */
  reservationId: z.string(),
  state: z.enum(DEPLOYMENT_STATES),
  message: z.string().default(""),
  containers: z.array(WorkloadStatus).default([]),
  availableSince: z.string().optional(),
  /** The spec hash of the bundle its reservation carries (a successor with the same one is adopted). */
  specHash: z.string().optional(),
  /** When its reservation ends (the renewal is judged from it, without reading the reservation). */
  expiresAt: z.string().optional(),
  /** The GPU indices claimed on the device for its containers' `gpus: {count}` (owner `app:<id>`). */
  gpus: z.array(z.number().int()).optional(),
  /** Not enough free GPUs: no reservation was written; each pass tries again. */
  waitingFor: z.literal("gpus").optional(),
  updatedAt: z.string(),
  /** Bumped on every write: what conditional updates check (two reconcilers, a status report). */
  v: z.number().int().min(1),
});
export type Deployment = z.infer<typeof Deployment>;

/** Whether a device is in an application's desired set D (applications.md §3). */
export function wants(
  app: Pick<Application, "scheduling" | "status">,
  device: { labels: Record<string, string>; nodeGroup: string },
): boolean {
  if (app.status !== "active") return false;
  const s = app.scheduling;
  if (s.type === "NoDevices") return false;
  if (s.nodeGroups.length > 0 && !s.nodeGroups.includes(device.nodeGroup)) return false;
  return s.type === "AllDevices" || labelsMatch(device.labels, s.selectors);
}

/**
 * What a device runs, hashed: a successor with the same hash (a renewal, a change of scheduling only) is
 * adopted without a restart. The config version is in it: a restart or a secret's change must recreate.
 */
export function specHash(
  app: Pick<Application, "type" | "spec" | "stopGracePeriodSeconds" | "configVersion">,
) {
  const canonical = JSON.stringify([app.type, app.spec, app.stopGracePeriodSeconds, app.configVersion]);
  return createHash("sha256").update(canonical).digest("hex").slice(0, 32);
}

/**
 * What one deployment adds to its application's counts (applications.md §3): one to `total` unless it is
 * leaving, to `available` when running at the current version and config, to `updated` when at them, to
 * `failed` and `unknown` by its state.
 */
export const DeploymentCounts = z.object({
  total: z.number().int(),
  available: z.number().int(),
  updated: z.number().int(),
  failed: z.number().int(),
  unknown: z.number().int(),
});
export type DeploymentCounts = z.infer<typeof DeploymentCounts>;
export const NO_COUNTS: DeploymentCounts = { total: 0, available: 0, updated: 0, failed: 0, unknown: 0 };

/**
 * Running for the application's `minReadySeconds` (at `now`): what counts as available and frees the
 * rollout's budget. With minReadySeconds 0, running is enough.
 */
export function isReady(
  app: Pick<Application, "rollout">,
  d: Pick<Deployment, "state" | "availableSince">,
  now: Date,
): boolean {
  if (d.state !== "running") return false;
  const wait = app.rollout.minReadySeconds * 1000;
  return (
    wait === 0 || (d.availableSince !== undefined && Date.parse(d.availableSince) + wait <= now.getTime())
  );
}

export function countsOf(
  app: Pick<Application, "version" | "configVersion" | "rollout">,
  d: Pick<Deployment, "state" | "version" | "configVersion" | "availableSince"> | undefined,
  now: Date,
): DeploymentCounts {
  if (!d || d.state === "deleting") return NO_COUNTS;
  const current = d.version === app.version && d.configVersion === app.configVersion;
  return {
    total: 1,
    available: Number(current && isReady(app, d, now)),
    updated: Number(current),
    failed: Number(d.state === "failed"),
    unknown: Number(d.state === "unknown"),
  };
}

/** How a deployment's change moves its application's counts (zero everywhere: no change). */
export function countsDelta(
  app: Pick<Application, "version" | "configVersion" | "rollout">,
  before: Deployment | undefined,
  after: Deployment | undefined,
  now: Date,
): DeploymentCounts | undefined {
  const a = countsOf(app, before, now);
  const b = countsOf(app, after, now);
  const delta = Object.fromEntries(
    Object.keys(a).map((k) => [k, b[k as keyof DeploymentCounts] - a[k as keyof DeploymentCounts]]),
  ) as DeploymentCounts;
  return Object.values(delta).some((n) => n !== 0) ? delta : undefined;
}

/** Synpse's three numbers (and Berth's three more), from the counts. */
export const statusOfCounts = (c: DeploymentCounts) => ({
  total: c.total,
  available: c.available,
  pending: c.total - c.available,
  updated: c.updated,
  failed: c.failed,
  unknown: c.unknown,
});

/** The counts of the deployments as they are (a full pass's recount). */
export function deploymentStatus(app: Application, deployments: Deployment[], now: Date) {
  const sum = { ...NO_COUNTS };
  for (const d of deployments) {
    const c = countsOf(app, d, now);
    for (const k of Object.keys(sum) as (keyof DeploymentCounts)[]) sum[k] += c[k];
  }
  return sum;
}

/** The owner a GPU claimed by an application has in its device's `gpuOwners` (a job's is its id). */
export const appGpuOwner = (applicationId: string) => `app:${applicationId}`;

/** How many GPUs an application claims on each device: its containers' `gpus: {count}` together. */
export const gpusNeeded = (app: Pick<Application, "spec">): number =>
  app.spec.containers.reduce((n, c) => n + (typeof c.gpus === "object" ? c.gpus.count : 0), 0);

/**
 * Whether an application uses the secret `name` of its namespace: in its containers' env (`fromSecret`),
 * files (`secrets`) or registry credentials (`auth`), or as its namespace's registry password.
 */
export const usesSecret = (
  app: Pick<Application, "spec" | "type">,
  name: string,
  ns?: Pick<Namespace, "config">,
): boolean =>
  (app.type === "container" && ns?.config.registryAuthentication?.fromSecret === name) ||
  app.spec.containers.some(
    (c) =>
      c.env.some((e) => e.fromSecret === name) ||
      c.secrets.some((x) => x.name === name) ||
      c.auth?.fromSecret === name,
  );

/**
 * The registries a container's image may be pulled from with credentials: its own `auth`, and its
 * namespace's `registryAuthentication` (Docker picks the one for the image's registry). One per server.
 */
export function registryCredentials(
  c: Pick<AppContainer, "auth">,
  ns: Pick<Namespace, "config"> | undefined,
): RegistryAuthentication[] {
  const all = [c.auth, ns?.config.registryAuthentication].filter((a) => a !== undefined);
  return all.filter((a, i) => all.findIndex((b) => b.serverAddress === a.serverAddress) === i);
}
