import { z } from "@hono/zod-openapi";
import {
  Constraint,
  Container,
  Env,
  Gpus,
  JOB_INTERNAL_FIELDS,
  JOB_OPERATION_NAMES,
  JOB_STATUSES,
  JOB_TARGETS,
  Job,
  JobEvent as JobEventSchema,
  Mount,
  Port,
  ResourceLimit,
} from "../domain/job.ts";
import { ENV_NAME } from "../domain/labels.ts";
import { parseEnv, parseMount, parsePort, SpecError } from "../domain/spec-strings.ts";
import { PageQuery, pageOf } from "./common.ts";

export const MAX_JOB_SECONDS = 30 * 24 * 3600;

/** A spec string (jobs.md §5) or the structured form, parsed the same way the CLI parses its flags. */
const specOr = <T extends z.ZodType>(parse: (s: string) => z.infer<T>, object: T) =>
  z.union([z.string(), object]).transform((value, ctx) => {
    if (typeof value !== "string") return value as z.infer<T>;
    try {
      return parse(value);
    } catch (err) {
      ctx.addIssue({ code: "custom", message: err instanceof SpecError ? err.message : String(err) });
      return z.NEVER;
    }
  });

const EnvEntry = specOr(parseEnv, Env).refine((e) => ENV_NAME.test(e.name), {
  message: "environment variable names must match [A-Za-z_][A-Za-z0-9_]*",
});
const MountEntry = specOr(parseMount, Mount).refine((m) => m.mountSource.type === "host", {
  message: 'only host mounts are supported (mountSource.type "host")',
});
const PortEntry = specOr(parsePort, Port);

/** `POST /api/v1/jobs`: the Launcher job object; `user`, `id`, `status` and the like are the server's. */
export const SubmitJobRequest = z
  .object({
    name: z.string().max(200).default(""),
    group: z.string().max(100).optional(),
    queues: z.array(z.string()).max(20).default([]),
    workingDirectory: z.string().regex(/^\//, "must be an absolute path").optional(),
    container: Container.extend({ image: z.string().min(1, "must name an image") }).optional(),
    command: z.string().min(1, "must not be empty").optional(),
    exe: z.string().min(1, "must not be empty").optional(),
    args: z.array(z.string()).default([]),
    stdin: z
      .string()
      .max(1024 * 1024)
      .optional(),
    environment: z.array(EnvEntry).default([]),
    secrets: z
      .array(z.object({ name: z.string(), env: z.string().optional(), path: z.string().optional() }))
      .default([]),
    placementConstraints: z.array(Constraint).max(50).default([]),
    exposedPorts: z.array(PortEntry).default([]),
    mounts: z.array(MountEntry).default([]),
    config: z
      .array(z.object({ name: z.string(), valueType: z.string().optional(), value: z.string().optional() }))
      .default([]),
    resourceLimits: z.array(ResourceLimit).default([]),
    gpus: Gpus.extend({
      count: z.number().int("must be a whole number").min(0).max(64, "must be at most 64"),
      memoryGiB: z.number().positive().optional(),
    }).optional(),
    tags: z.array(z.string().min(1).max(100)).max(50).default([]),
    metadata: z.record(z.string(), z.unknown()).default({}),
    resourceProfile: z.string().min(1).default("custom"),
    target: z.enum(JOB_TARGETS).default("fleet"),
    maxDuration: z
      .number()
      .int("must be a whole number of seconds")
      .min(1)
      .max(MAX_JOB_SECONDS, `must be at most ${MAX_JOB_SECONDS} seconds (30 days)`)
      .default(86_400),
  })
  .superRefine((job, ctx) => {
    if (job.command && job.exe) {
      ctx.addIssue({ code: "custom", path: ["exe"], message: "give command or exe, not both" });
    } else if (!job.command && !job.exe) {
      ctx.addIssue({
        code: "custom",
        path: ["command"],
        message: "give a command (a shell command) or an exe (a program)",
      });
    }
    if (!job.container && (job.mounts.length > 0 || job.exposedPorts.length > 0)) {
      ctx.addIssue({
        code: "custom",
        path: ["container"],
        message: "mounts and exposedPorts need a container image",
      });
    }
  })
  .openapi("SubmitJobRequest");
export type SubmitJobRequest = z.infer<typeof SubmitJobRequest>;

/**
 * The Launcher job object as the API shows it: the stored job without Berth's bookkeeping. Every field
 * but `id` may be left out (`fields=` projects the list).
 */
export const JobView = Job.omit(
  Object.fromEntries(JOB_INTERNAL_FIELDS.map((f) => [f, true] as const)) as {
    [K in (typeof JOB_INTERNAL_FIELDS)[number]]: true;
  },
)
  .partial()
  .required({ id: true })
  .openapi("Job");
export type JobView = z.infer<typeof JobView>;

const list = (name: string) =>
  z
    .union([z.string(), z.array(z.string())])
    .optional()
    .transform((v) =>
      v === undefined ? [] : (Array.isArray(v) ? v : [v]).flatMap((x) => x.split(",")).filter(Boolean),
    )
    .openapi({ param: { name, in: "query" }, description: "comma-separated or repeated" });

const Time = (name: string) =>
  z.iso
    .datetime({ offset: true, error: "must be an RFC 3339 timestamp" })
    .optional()
    .openapi({ param: { name, in: "query" }, description: "inclusive bound on submissionTime" });

/** `GET /api/v1/jobs`: all conditions ANDed (jobs.md §4). */
export const ListJobsQuery = PageQuery.extend({
  startTime: Time("startTime"),
  endTime: Time("endTime"),
  statuses: list("statuses").refine((s) => s.every((x) => (JOB_STATUSES as readonly string[]).includes(x)), {
    message: `statuses must be among ${JOB_STATUSES.join(", ")}`,
  }),
  tags: list("tags"),
  user: z
    .string()
    .optional()
    .openapi({ param: { name: "user", in: "query" }, description: "admin only; * = all users" }),
  fields: list("fields"),
});

export const JobPage = pageOf(JobView).openapi("JobPage");

export const ControlJobRequest = z
  .object({
    operation: z.enum(JOB_OPERATION_NAMES, {
      error: `operation must be one of ${JOB_OPERATION_NAMES.join(", ")}`,
    }),
  })
  .openapi("ControlJobRequest");

export const JobOutputQuery = z.object({
  stream: z
    .enum(["stdout", "stderr", "mixed"])
    .default("mixed")
    .openapi({ param: { name: "stream", in: "query" } }),
  follow: z
    .enum(["true", "false"])
    .default("false")
    .transform((v) => v === "true")
    .openapi({
      param: { name: "follow", in: "query" },
      description: "server-sent events until the job is final",
    }),
});

export const JobEventsQuery = z.object({
  follow: z
    .enum(["true", "false"])
    .default("true")
    .transform((v) => v === "true")
    .openapi({ param: { name: "follow", in: "query" }, description: "false: the events so far, as JSON" }),
});

export const OutputLine = z.object({
  seqId: z.number(),
  stream: z.enum(["stdout", "stderr"]),
  data: z.string(),
});
export const JobOutput = z
  .object({ output: z.array(OutputLine), complete: z.boolean().openapi({ description: "the job is final" }) })
  .openapi("JobOutput");

export const JobEvent = JobEventSchema.extend({}).openapi("JobEvent");
export type JobEvent = z.infer<typeof JobEvent>;
export const JobEventList = z
  .object({ events: z.array(JobEvent), complete: z.boolean() })
  .openapi("JobEventList");
