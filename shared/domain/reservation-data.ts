import { z } from "zod";
import { ENV_NAME } from "./labels.ts";

/** Per-type payloads of a reservation (`data`). Unknown fields are dropped; bad ones are a 400. */

const AbsolutePath = z.string().regex(/^\//, "must be an absolute path");
const Env = z
  .record(z.string(), z.string())
  .refine(
    (env) => Object.keys(env).every((k) => ENV_NAME.test(k)),
    "variable names must match [A-Za-z_][A-Za-z0-9_]*",
  )
  .default({});
const GpuIndices = z.array(z.number().int().min(0)).max(64);
const Grace = z.number().int().min(0).max(3600).default(10);

/** A host process: argv[0] is the executable, found on PATH if not absolute. */
export const ProcessData = z.object({
  argv: z
    .array(z.string())
    .min(1, "must name the program to run")
    .refine((a) => a[0] !== "", "argv[0] must not be empty"),
  env: Env,
  workingDirectory: AbsolutePath.optional(),
  /** GPU indices the process may use (CUDA_VISIBLE_DEVICES). */
  gpus: GpuIndices.default([]),
  stdin: z
    .string()
    .max(1024 * 1024)
    .optional(),
  /** Seconds between SIGTERM and SIGKILL when it is stopped. */
  stopGracePeriodSeconds: Grace,
});

export const ContainerData = z.object({
  image: z.string().min(1),
  command: z.array(z.string()).optional(),
  args: z.array(z.string()).default([]),
  env: Env,
  mounts: z
    .array(z.object({ source: AbsolutePath, target: AbsolutePath, readOnly: z.boolean().default(false) }))
    .default([]),
  ports: z
    .array(
      z.object({
        containerPort: z.number().int().min(1).max(65535),
        hostPort: z.number().int().min(1).max(65535).optional(),
        protocol: z.enum(["tcp", "udp"]).default("tcp"),
      }),
    )
    .default([]),
  gpus: z.union([GpuIndices, z.literal("all")]).default([]),
  workingDirectory: AbsolutePath.optional(),
  user: z.string().optional(),
  stopGracePeriodSeconds: Grace,
});

export const VolumeData = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/, "must be 1-63 of a-z, 0-9, '_', '.', '-'"),
  sizeGiB: z.number().positive().optional(),
});

export const PrepullData = z.object({ image: z.string().min(1) });

/** Anything: the agent echoes it back as its result. */
export const DebugData = z.record(z.string(), z.unknown());

export const RESERVATION_DATA = {
  process: ProcessData,
  container: ContainerData,
  volume: VolumeData,
  prepull: PrepullData,
  debug: DebugData,
} as const;

export type ProcessData = z.infer<typeof ProcessData>;
export type ContainerData = z.infer<typeof ContainerData>;
export type VolumeData = z.infer<typeof VolumeData>;
export type PrepullData = z.infer<typeof PrepullData>;
