import { z } from "zod";

/**
 * Labs (specs/labs.md): one interactive session per user, spawned from an image menu (Nublado). This is the
 * workspace's lab config (§2), written by admins: where labs run, the sizes (resource profiles) and images
 * users may pick, how a lab is started and how long it lives, and the per-user quota.
 */

/** One image of the menu or the dropdown: its reference, and the name the spawn form shows. */
export const LabImage = z.object({
  reference: z.string().min(1).max(1024),
  name: z.string().max(200).optional(),
});
export type LabImage = z.infer<typeof LabImage>;

/** Nublado's `NotebookQuota {cpu, memory, spawn}`, with GPUs: what one user's lab may take. */
export const LabQuota = z.object({
  cpu: z.number().positive().max(1024),
  memoryGiB: z.number().positive().max(65536),
  gpus: z.number().int().min(0).max(64),
  spawn: z.boolean(),
});
export type LabQuota = z.infer<typeof LabQuota>;
/** A user's override: any of the quota's fields. */
export const LabQuotaOverride = LabQuota.partial();
export type LabQuotaOverride = z.infer<typeof LabQuotaOverride>;

/** Nublado's user file servers (specs/labs.md §8): one per user, for a fixed lifetime. */
export const FileserverConfig = z.object({
  enabled: z.boolean().default(false),
  image: z.string().min(1).max(1024).optional(),
  /** A shell command (the image's own when absent; required with runtime process). */
  command: z
    .string()
    .max(64 * 1024)
    .optional(),
  port: z.number().int().min(1).max(65535).default(8080),
  volumeMounts: z
    .array(z.object({ source: z.string().startsWith("/"), target: z.string().startsWith("/") }))
    .max(16)
    .default([]),
  lifetimeSeconds: z
    .number()
    .int()
    .min(60)
    .max(7 * 86400)
    .default(3600),
  queues: z.array(z.string().min(1).max(63)).max(16).default([]),
});
export type FileserverConfig = z.infer<typeof FileserverConfig>;

export const LabConfig = z.object({
  enabled: z.boolean().default(true),
  queues: z.array(z.string().min(1).max(63)).max(16).default(["labs"]),
  placementConstraints: z
    .array(z.object({ name: z.string(), value: z.string() }))
    .max(32)
    .default([]),
  /** Resource profile names (jobs.md §8), in the order the form lists them. */
  sizes: z.array(z.string().min(1).max(63)).min(1).max(32),
  defaultSize: z.string().min(1).max(63),
  images: z.object({
    recommended: z.string().min(1).max(1024),
    menu: z.array(LabImage).max(50).default([]),
    dropdown: z.array(LabImage).max(500).default([]),
    allowOtherImages: z.boolean().default(false),
    prepull: z
      .object({
        enabled: z.boolean().default(true),
        timeoutSeconds: z.number().int().min(10).max(7200).default(600),
        refreshSeconds: z.number().int().min(10).max(86400).default(300),
      })
      .default({ enabled: true, timeoutSeconds: 600, refreshSeconds: 300 }),
  }),
  port: z.number().int().min(1).max(65535).default(8888),
  /** A shell command to start the lab with (the image's own when null). */
  command: z
    .string()
    .max(64 * 1024)
    .nullable()
    .default(null),
  env: z.record(z.string(), z.string().max(32 * 1024)).default({}),
  /** Environment secrets of the default namespace given to every lab. */
  secrets: z
    .array(z.object({ name: z.string(), env: z.string() }))
    .max(32)
    .default([]),
  readiness: z
    .object({
      path: z.string().startsWith("/").max(2048).default("/api"),
      timeoutSeconds: z.number().int().min(1).max(60).default(2),
    })
    .default({ path: "/api", timeoutSeconds: 2 }),
  spawnTimeoutSeconds: z.number().int().min(30).max(7200).default(600),
  maxDurationSeconds: z
    .number()
    .int()
    .min(60)
    .max(30 * 86400)
    .default(43200),
  stopGracePeriodSeconds: z.number().int().min(0).max(600).default(1),
  quota: z
    .object({ default: LabQuota.default({ cpu: 8, memoryGiB: 32, gpus: 1, spawn: true }) })
    .default({ default: { cpu: 8, memoryGiB: 32, gpus: 1, spawn: true } }),
  /**
   * `container` (the image runs under Docker) or `process`: the agent runs `command` on the host, with the
   * chosen image's reference in JUPYTER_IMAGE (say, a virtualenv to start from) and the port to listen on in
   * BERTH_LAB_PORT. Process labs need no container engine and have nothing to prepull.
   */
  runtime: z.enum(["container", "process"]).default("container"),
  /** The device address a lab's URL names: its private address (default) or its public one. */
  address: z.enum(["privateIP", "publicIP"]).default("privateIP"),
  fileserver: FileserverConfig.default({
    enabled: false,
    port: 8080,
    lifetimeSeconds: 3600,
    queues: [],
    volumeMounts: [],
  }),
});
export type LabConfig = z.infer<typeof LabConfig>;

/** The config as stored: bumped `revision` on each write (what a conditional write checks). */
export const StoredLabConfig = LabConfig.extend({ revision: z.number().int().min(1), updatedAt: z.string() });
export type StoredLabConfig = z.infer<typeof StoredLabConfig>;

/**
 * Variables a lab's config may not set: what the lab itself is given (Nublado's `RESERVED_ENV` as the spec
 * lists it, and Berth's own), and JupyterHub's (`JUPYTERHUB_*`) and Berth's (`BERTH_*`) prefixes.
 */
export const RESERVED_LAB_ENV = [
  "DEBUG",
  "RESET_USER_ENV",
  "CONTAINER_SIZE",
  "CPU_LIMIT",
  "MEM_LIMIT",
  "IMAGE_DESCRIPTION",
  "JUPYTER_IMAGE",
] as const;
export const isReservedLabEnv = (name: string) =>
  (RESERVED_LAB_ENV as readonly string[]).includes(name) || /^(JUPYTERHUB_|BERTH_)/.test(name);

/** A user's quota: the config's default with their override. */
export const labQuotaOf = (
  config: Pick<LabConfig, "quota">,
  override: LabQuotaOverride | undefined,
): LabQuota => ({
  ...config.quota.default,
  ...override,
});
