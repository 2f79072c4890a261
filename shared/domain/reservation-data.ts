import { z } from "zod";
import { text } from "./bounds.ts";
import { ENV_NAME } from "./labels.ts";

/**
 * Per-type payloads of a reservation (`data`). Unknown fields are dropped; bad ones are a 400. The agent
 * parses what it receives with these too, so each bound admits what a job at its own bounds becomes
 * (contracts/jobs.ts); what one reservation may weigh as a whole is bounded where it is created.
 */

export const MAX_PATH_BYTES = 4096;
/** One argument: a job's shell command (32 KiB) with the wrapper around it fits. */
export const MAX_ARG_BYTES = 64 * 1024;
export const MAX_ARGS = 512;
export const MAX_ENV_ENTRIES = 256;
export const MAX_ENV_ENTRY_BYTES = 32 * 1024;
export const MAX_STDIN_BYTES = 64 * 1024;
export const MAX_IMAGE_LENGTH = 1024;

const AbsolutePath = text(MAX_PATH_BYTES).regex(/^\//, "must be an absolute path");
const Arg = text(MAX_ARG_BYTES);
const Env = z
  .record(z.string().max(MAX_ENV_ENTRY_BYTES), text(MAX_ENV_ENTRY_BYTES))
  .refine(
    (env) => Object.keys(env).every((k) => ENV_NAME.test(k)),
    "variable names must match [A-Za-z_][A-Za-z0-9_]*",
  )
  .refine((env) => Object.keys(env).length <= MAX_ENV_ENTRIES, `at most ${MAX_ENV_ENTRIES} variables`)
  .default({});
const GpuIndices = z.array(z.number().int().min(0)).max(64);
const Grace = z.number().int().min(0).max(3600).default(10);

/**
 * Values sealed to the node (sealed.ts): env values by variable name, files by path (relative to
 * $BERTH_SECRETS_DIR for a process, in the container for a container), and which secret versions they are.
 */
const SEALED = text(256 * 1024);
const SecretEnv = z.record(z.string().max(128), SEALED).default({});
const SecretFiles = z
  .array(
    z.object({
      path: text(MAX_PATH_BYTES),
      mode: z.number().int().min(0).max(0o777).default(0o400),
      sealed: SEALED,
    }),
  )
  .max(64)
  .default([]);
const SecretRefs = z
  .array(
    z.object({
      name: z.string().max(128),
      namespace: z.string().max(128),
      version: z.number().int(),
      target: z.string().max(MAX_PATH_BYTES + 8),
    }),
  )
  .max(128)
  .default([]);
const Secrets = { secretEnv: SecretEnv, secretFiles: SecretFiles, secretRefs: SecretRefs };

const ContainerPorts = z
  .array(
    z.object({
      containerPort: z.number().int().min(1).max(65535),
      hostPort: z.number().int().min(1).max(65535).optional(),
      protocol: z.enum(["tcp", "udp"]).default("tcp"),
    }),
  )
  .max(64)
  .default([]);

/**
 * A lab's workload (specs/labs.md §5): the agent pulls the image first and reports its progress, then the
 * host port (Docker's choice, or one it picked for a process, given as BERTH_LAB_PORT), then probes
 * `readinessPath` on it until it answers below 500, and reports it ready.
 */
export const LabRun = z.object({
  port: z.number().int().min(1).max(65535),
  readinessPath: z.string().startsWith("/").max(2048),
  readinessTimeoutSeconds: z.number().int().min(1).max(60),
});
export type LabRun = z.infer<typeof LabRun>;

/** A host process: argv[0] is the executable, found on PATH if not absolute. */
export const ProcessData = z.object({
  argv: z
    .array(Arg)
    .min(1, "must name the program to run")
    .max(MAX_ARGS, `at most ${MAX_ARGS} arguments`)
    .refine((a) => a[0] !== "", "argv[0] must not be empty"),
  env: Env,
  workingDirectory: AbsolutePath.optional(),
  /** GPU indices the process may use (CUDA_VISIBLE_DEVICES). */
  gpus: GpuIndices.default([]),
  stdin: text(MAX_STDIN_BYTES).optional(),
  /** Seconds between SIGTERM and SIGKILL when it is stopped. */
  stopGracePeriodSeconds: Grace,
  lab: LabRun.optional(),
  ...Secrets,
});

export const ContainerData = z.object({
  image: z.string().min(1).max(MAX_IMAGE_LENGTH),
  command: z.array(Arg).max(MAX_ARGS).optional(),
  args: z.array(Arg).max(MAX_ARGS).default([]),
  env: Env,
  mounts: z
    .array(z.object({ source: AbsolutePath, target: AbsolutePath, readOnly: z.boolean().default(false) }))
    .max(64)
    .default([]),
  ports: ContainerPorts,
  gpus: z.union([GpuIndices, z.literal("all")]).default([]),
  workingDirectory: AbsolutePath.optional(),
  user: z.string().max(64).optional(),
  stopGracePeriodSeconds: Grace,
  lab: LabRun.optional(),
  /** Resource limits Docker enforces (`--cpus`, `--memory` and `--memory-swap`, memory plus swap, in MiB). */
  cpus: z.number().positive().max(1024).optional(),
  memoryMiB: z.number().int().positive().optional(),
  memorySwapMiB: z.number().int().positive().optional(),
  ...Secrets,
});

/** Docker's restart policy names; for a process application the agent applies them itself. */
const Restart = z
  .object({
    name: z.enum(["always", "unless-stopped", "on-failure", "no"]),
    maximumRetryCount: z.number().int().min(0).optional(),
  })
  .default({ name: "always" });

/**
 * One long-running workload of an application on this device (specs/applications.md §4), signed like any
 * reservation: every container (or program, for `kind: process`) with its restart policy and its secrets
 * sealed to this device. `supersedes` names the reservation it replaces: the same `specHash` is adopted as it
 * runs (a renewal), another one is stopped first (recreate, never surge).
 */
export const ApplicationData = z.object({
  application: z.object({
    id: z.string().max(64),
    namespace: z.string().max(63),
    name: z.string().max(63),
    version: z.number().int().min(1),
    configVersion: z.number().int().min(1),
    specHash: z.string().max(64),
  }),
  supersedes: z.string().max(64).optional(),
  kind: z.enum(["container", "process"]),
  containers: z
    .array(
      z.object({
        name: z.string().max(31),
        /** Process: the program and its arguments. */
        argv: z.array(Arg).max(MAX_ARGS).optional(),
        /** Container: its image, entrypoint override and arguments. */
        image: z.string().min(1).max(MAX_IMAGE_LENGTH).optional(),
        command: z.array(Arg).max(MAX_ARGS).optional(),
        args: z.array(Arg).max(MAX_ARGS).default([]),
        env: Env,
        ports: ContainerPorts,
        gpus: z.union([GpuIndices, z.literal("all")]).default([]),
        workingDirectory: AbsolutePath.optional(),
        user: z.string().max(64).optional(),
        restartPolicy: Restart,
        /** Containers: the application's bridge (default), the host's network, or Docker's default bridge. */
        networkMode: z.enum(["bridge", "host", "isolated"]).optional(),
        /** Containers: Docker's settings (Synpse's ContainerSpec), each only when given. */
        hostname: z.string().max(253).optional(),
        mounts: z
          .array(
            z.object({ source: AbsolutePath, target: AbsolutePath, readOnly: z.boolean().default(false) }),
          )
          .max(64)
          .optional(),
        privileged: z.boolean().optional(),
        capAdd: z.array(z.string().max(64)).max(64).optional(),
        capDrop: z.array(z.string().max(64)).max(64).optional(),
        shmSizeBytes: z.number().int().min(1).optional(),
        memoryBytes: z.number().int().min(1).optional(),
        forcePull: z.boolean().optional(),
        pullTimeoutSeconds: z.number().int().min(1).max(7200).optional(),
        /** Containers: credentials for `docker pull`, each password sealed to this node (`registry:<server>`). */
        auth: z
          .array(
            z.object({
              serverAddress: z.string().min(1).max(253),
              username: z.string().min(1).max(256),
              password: SEALED,
            }),
          )
          .max(2)
          .optional(),
        ...Secrets,
      }),
    )
    .min(1)
    .max(8),
  stopGracePeriodSeconds: Grace,
});

export const VolumeData = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/, "must be 1-63 of a-z, 0-9, '_', '.', '-'"),
  sizeGiB: z
    .number()
    .positive()
    .max(1024 * 1024, "must be at most 1048576 (1 PiB)")
    .optional(),
});

export const PrepullData = z.object({ image: z.string().min(1).max(MAX_IMAGE_LENGTH) });

/** Anything: the agent echoes it back as its result. */
export const DebugData = z.record(z.string(), z.unknown());

/**
 * An operation on the device itself (specs/applications.md §8): a reboot, which the agent honours only when
 * started with --allow-reboot. Its reservation (10 minutes long) is the signed operation: its id is the
 * operation's, and a late or re-delivered one is never acted on (expiry, and the agent's record of it).
 */
export const OperationData = z.object({
  action: z.enum(["reboot", "set-healthy"]),
  reason: z.string().max(500).default(""),
  /** set-healthy: the health components whose events are purged (specs/gpu-health.md §5). */
  components: z.array(z.string().max(128)).max(16).optional(),
});
export type OperationData = z.infer<typeof OperationData>;

export const RESERVATION_DATA = {
  process: ProcessData,
  container: ContainerData,
  volume: VolumeData,
  prepull: PrepullData,
  debug: DebugData,
  application: ApplicationData,
  operation: OperationData,
} as const;

export type ProcessData = z.infer<typeof ProcessData>;
export type ContainerData = z.infer<typeof ContainerData>;
export type VolumeData = z.infer<typeof VolumeData>;
export type PrepullData = z.infer<typeof PrepullData>;
export type ApplicationData = z.infer<typeof ApplicationData>;
