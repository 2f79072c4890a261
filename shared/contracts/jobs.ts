import { z } from "@hono/zod-openapi";
import { JsonObject, jsonBytes, MAX_METADATA_BYTES, MAX_SPEC_BYTES, text } from "../domain/bounds.ts";
import { ID_PATTERN } from "../domain/ids.ts";
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
import {
  MAX_ENV_ENTRY_BYTES,
  MAX_IMAGE_LENGTH,
  MAX_PATH_BYTES,
  MAX_STDIN_BYTES,
} from "../domain/reservation-data.ts";
import { parseEnv, parseMount, parsePort, SpecError } from "../domain/spec-strings.ts";
import { BooleanQuery, Id, PageQuery, pageOf } from "./common.ts";

export const MAX_JOB_SECONDS = 30 * 24 * 3600;

/**
 * Bounds of a job (each field, and the whole). A job is stored as one item, and what it runs (command, args,
 * environment, stdin, mounts, ports) becomes its reservation's data, stored again in the reservation and
 * its feed entry: the job as JSON is at most MAX_SPEC_BYTES (96 KiB), so each of those items stays far
 * below DynamoDB's 400 KB whatever the fields hold. The per-field bounds below say what is sensible.
 */
export const MAX_COMMAND_BYTES = 32 * 1024;
export const MAX_JOB_ARGS = 256;
export const MAX_JOB_ENV = 256;
export const MAX_JOB_LIST = 64;
const Short = z.string().max(256, "must be at most 256 characters");
const Port1 = z.number().int("must be a whole number").min(1).max(65535, "must be at most 65535");
const Uid = z
  .number()
  .int("must be a whole number")
  .min(0)
  .max(2 ** 32 - 1);

/** Structured forms, bounded (the stored job keeps the domain's shapes). */
const EnvObject = Env.extend({ name: z.string().max(128), value: text(MAX_ENV_ENTRY_BYTES) });
const PortObject = Port.extend({
  targetPort: Port1,
  publishedPort: Port1.optional(),
  protocol: z.string().max(16),
});
const MountObject = Mount.extend({
  mountPath: text(MAX_PATH_BYTES),
  mountSource: z.object({ type: z.string().max(16), source: z.object({ path: text(MAX_PATH_BYTES) }) }),
});
export const ConstraintInput = Constraint.extend({ name: Short, value: z.string().max(1024).optional() });
export const ResourceLimitInput = ResourceLimit.extend({
  type: Short,
  value: Short.optional(),
  defaultValue: Short.optional(),
  maxValue: Short.optional(),
});
export const GpusInput = Gpus.extend({
  count: z.number().int("must be a whole number").min(0).max(64, "must be at most 64"),
  type: Short.optional(),
  memoryGiB: z
    .number()
    .positive()
    .max(1024 * 1024, "must be at most 1048576")
    .optional(),
});

/** A spec string (jobs.md §5) or the structured form, parsed the same way the CLI parses its flags. */
const specOr = <T extends z.ZodType>(parse: (s: string) => z.infer<T>, object: T, maxSpec: number) =>
  z.union([z.string().max(maxSpec), object]).transform((value, ctx) => {
    if (typeof value !== "string") return value as z.infer<T>;
    try {
      return parse(value);
    } catch (err) {
      ctx.addIssue({ code: "custom", message: err instanceof SpecError ? err.message : String(err) });
      return z.NEVER;
    }
  });

const EnvEntry = specOr(parseEnv, EnvObject, 129 + MAX_ENV_ENTRY_BYTES)
  .refine((e) => ENV_NAME.test(e.name) && e.name.length <= 128, {
    message: "environment variable names must match [A-Za-z_][A-Za-z0-9_]* (at most 128 characters)",
  })
  .refine((e) => EnvObject.shape.value.safeParse(e.value).success, {
    message: `environment variable values must be at most ${MAX_ENV_ENTRY_BYTES} bytes`,
  });
const MountEntry = specOr(parseMount, MountObject, 2 * MAX_PATH_BYTES + 4).refine(
  (m) => m.mountSource.type === "host",
  { message: 'only host mounts are supported (mountSource.type "host")' },
);
const PortEntry = specOr(parsePort, PortObject, 32);

/** `POST /api/v1/jobs`: the Launcher job object; `user`, `id`, `status` and the like are the server's. */
export const SubmitJobRequest = z
  .object({
    name: z.string().max(200).default(""),
    group: z.string().max(100).optional(),
    queues: z.array(z.string().max(100)).max(20).default([]),
    workingDirectory: text(MAX_PATH_BYTES).regex(/^\//, "must be an absolute path").optional(),
    container: Container.extend({
      image: z.string().min(1, "must name an image").max(MAX_IMAGE_LENGTH),
      runAsUserId: Uid.optional(),
      runAsGroupId: Uid.optional(),
      supplementalGroupIds: z.array(Uid).max(32).optional(),
    }).optional(),
    command: text(MAX_COMMAND_BYTES).min(1, "must not be empty").optional(),
    exe: text(MAX_PATH_BYTES).min(1, "must not be empty").optional(),
    args: z.array(text(MAX_COMMAND_BYTES)).max(MAX_JOB_ARGS, `at most ${MAX_JOB_ARGS} arguments`).default([]),
    stdin: text(MAX_STDIN_BYTES).optional(),
    environment: z.array(EnvEntry).max(MAX_JOB_ENV, `at most ${MAX_JOB_ENV} variables`).default([]),
    secrets: z
      .array(
        z.object({
          name: Short,
          namespace: Short.optional(),
          env: Short.optional(),
          path: text(MAX_PATH_BYTES).optional(),
        }),
      )
      .max(MAX_JOB_LIST)
      .default([]),
    placementConstraints: z.array(ConstraintInput).max(50).default([]),
    exposedPorts: z.array(PortEntry).max(MAX_JOB_LIST).default([]),
    mounts: z.array(MountEntry).max(MAX_JOB_LIST).default([]),
    config: z
      .array(
        z.object({ name: Short, valueType: Short.optional(), value: text(MAX_ENV_ENTRY_BYTES).optional() }),
      )
      .max(MAX_JOB_LIST)
      .default([]),
    resourceLimits: z.array(ResourceLimitInput).max(32).default([]),
    gpus: GpusInput.optional(),
    tags: z.array(z.string().min(1).max(100)).max(50).default([]),
    metadata: JsonObject(MAX_METADATA_BYTES).default({}),
    resourceProfile: Id.default("custom"),
    target: z.enum(JOB_TARGETS).default("fleet"),
    maxDuration: z
      .number()
      .int("must be a whole number of seconds")
      .min(1)
      .max(MAX_JOB_SECONDS, `must be at most ${MAX_JOB_SECONDS} seconds (30 days)`)
      .default(86_400),
    disconnect: z
      .object({
        lostAfterSeconds: z
          .number()
          .int("must be a whole number of seconds")
          .min(10, "must be at least 10 seconds")
          .max(MAX_JOB_SECONDS, `must be at most ${MAX_JOB_SECONDS} seconds (30 days)`)
          .optional(),
        replace: z.boolean().default(false),
      })
      .optional()
      .openapi({
        description:
          "when its device goes silent: how long until the job is Failed/NodeLost (default: the control plane's, 1 h), and whether a copy is then submitted",
      }),
    cpus: z
      .number()
      .positive()
      .max(4096, "must be at most 4096")
      .optional()
      .openapi({ description: "CPUs it needs: placed only where that many are free" }),
    memoryGiB: z
      .number()
      .positive()
      .max(1024 * 1024, "must be at most 1048576")
      .optional()
      .openapi({ description: "memory it needs, in GiB: placed only where that much is free" }),
  })
  .superRefine((job, ctx) => {
    const size = jsonBytes(job);
    if (size > MAX_SPEC_BYTES) {
      // Name the field that weighs most: that is the one to shorten.
      const [largest] = Object.entries(job)
        .map(([k, v]) => [k, jsonBytes(v)] as const)
        .sort((a, b) => b[1] - a[1]);
      ctx.addIssue({
        code: "custom",
        path: largest ? [largest[0]] : [],
        message: `the job is ${size} bytes as JSON, more than ${MAX_SPEC_BYTES}; ${largest?.[0]} alone is ${largest?.[1]}`,
      });
    }
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
    .union([z.string().max(4096), z.array(z.string().max(1024)).max(64)])
    .optional()
    .transform((v) =>
      v === undefined ? [] : (Array.isArray(v) ? v : [v]).flatMap((x) => x.split(",")).filter(Boolean),
    )
    .openapi({ param: { name, in: "query" }, description: "comma-separated or repeated" });

const Time = (name: string) =>
  z.iso
    .datetime({ offset: true, error: "must be an RFC 3339 timestamp" })
    .max(64, "must be at most 64 characters")
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
  user: Id.optional().openapi({
    param: { name: "user", in: "query" },
    description: "admin only; * = all users",
  }),
  fields: list("fields"),
  order: z
    .enum(["asc", "desc"], { error: "order must be asc (oldest first) or desc (newest first)" })
    .default("asc")
    .openapi({ param: { name: "order", in: "query" }, description: "by submission time; asc by default" }),
});

export const JobPage = pageOf(JobView).openapi("JobPage");

export const ControlJobRequest = z
  .object({
    operation: z.enum(JOB_OPERATION_NAMES, {
      error: `operation must be one of ${JOB_OPERATION_NAMES.join(", ")}`,
    }),
  })
  .openapi("ControlJobRequest");

/**
 * Where a follow stream of a job's output resumes: the SSE `id:` of the last event received, the position of
 * the last output chunk it covered (chunks of both streams counted from 1; 0 = from the start).
 */
export const OutputCursor = z
  .string()
  .regex(
    /^\d{1,15}(~[A-Za-z0-9_-]{1,2048})?$/,
    "an output cursor is the id of the last event received: a whole number (0: the start), for a cloud job maybe followed by ~ and its log position",
  )
  .transform((v) => {
    const [position, log] = v.split("~");
    // A cloud job's log position (its launcher's own cursor) rides along, so a follower resumes without re-reading.
    return { position: Number(position), ...(log ? { log: Buffer.from(log, "base64url").toString() } : {}) };
  });
export type OutputCursor = z.output<typeof OutputCursor>;

/**
 * Where a follow stream of a job's events resumes: the SSE `id:` of the last event received, the id of the
 * last lifecycle event it covered (events sort by id; 0 = from the start).
 */
export const EventCursor = z.union([
  z.literal("0"),
  z.string().regex(ID_PATTERN, "an event cursor is the id of the last event received (0: the start)"),
]);

export const JobOutputQuery = z.object({
  stream: z
    .enum(["stdout", "stderr", "mixed"])
    .default("mixed")
    .openapi({ param: { name: "stream", in: "query" } }),
  follow: BooleanQuery("follow", false, "server-sent events until the job is final"),
  after: OutputCursor.optional().openapi({
    param: { name: "after", in: "query" },
    description:
      "with follow=true: resume after this cursor (the `id:` of the last event received); a `Last-Event-ID` header wins over it",
  }),
});

export const JobEventsQuery = z.object({
  follow: BooleanQuery("follow", true, "false: the events so far, as JSON"),
  after: EventCursor.optional().openapi({
    param: { name: "after", in: "query" },
    description:
      "only the events after this cursor (the `id:` of the last event received); a `Last-Event-ID` header wins over it",
  }),
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
