import { z } from "@hono/zod-openapi";
import { LabConfig, LabQuota } from "../domain/lab.ts";
import { PageQuery } from "./common.ts";

/** `PUT /api/v1/labs/config`: the whole config (specs/labs.md §2); fields not given take their defaults. */
export const PutLabConfigRequest = LabConfig.extend({
  expectedRevision: z.number().int().min(1).optional().openapi({
    description: "refuse (409) unless the stored config is still at this revision",
  }),
})
  .strict()
  .openapi("PutLabConfigRequest");
export type PutLabConfigRequest = z.infer<typeof PutLabConfigRequest>;

export const LabConfigView = LabConfig.extend({ revision: z.number().int(), updatedAt: z.string() }).openapi(
  "LabConfig",
);
export type LabConfigView = z.infer<typeof LabConfigView>;

/** `PUT /api/v1/labs/quotas/{user}`: the fields to override; `null` takes one back to the default. */
export const SetLabQuotaRequest = z
  .object({
    cpu: LabQuota.shape.cpu.nullable().optional(),
    memoryGiB: LabQuota.shape.memoryGiB.nullable().optional(),
    gpus: LabQuota.shape.gpus.nullable().optional(),
    spawn: LabQuota.shape.spawn.nullable().optional(),
  })
  .strict()
  .openapi("SetLabQuotaRequest");
export type SetLabQuotaRequest = z.infer<typeof SetLabQuotaRequest>;

export const LabQuotaView = z
  .object({
    user: z.string(),
    quota: LabQuota.extend({}).openapi({
      description: "what applies: the config's default with the user's override",
    }),
    override: LabQuota.partial(),
  })
  .openapi("LabQuota");
export type LabQuotaView = z.infer<typeof LabQuotaView>;

export const LabUserParam = z.object({
  user: z
    .string()
    .min(1)
    .max(128)
    .openapi({ param: { name: "user", in: "path" }, description: "the user (a key's name)" }),
});

export const LabKindParam = z.enum(["lab", "fileserver"]);

/** `POST /api/v1/labs`: Nublado's `LabSpecification` in camelCase (specs/labs.md §4). */
export const SpawnLabRequest = z
  .object({
    options: z
      .object({
        imageList: z.string().max(1024).optional(),
        imageDropdown: z.string().max(1024).optional(),
        imageClass: z.string().max(64).optional(),
        imageTag: z.string().max(128).optional(),
        size: z.string().min(1).max(63),
        enableDebug: z.boolean().default(false),
        resetUserEnv: z.boolean().default(false),
      })
      .strict(),
    env: z.record(z.string(), z.string().max(32 * 1024)).default({}),
  })
  .strict()
  .openapi("SpawnLabRequest");
export type SpawnLabRequest = z.infer<typeof SpawnLabRequest>;

const Resources = z.object({ cpu: z.number(), memory: z.number().openapi({ description: "bytes" }) });

/** Nublado's `LabState` in camelCase, with Berth's job, device and expiry (specs/labs.md §5). */
export const LabView = z
  .object({
    user: z.object({ username: z.string() }),
    kind: LabKindParam,
    options: z.object({
      image: z.string(),
      size: z.string(),
      enableDebug: z.boolean(),
      resetUserEnv: z.boolean(),
    }),
    status: z.enum(["pending", "running", "terminating", "terminated", "failed"]),
    operation: z.enum(["spawn", "delete"]).optional(),
    url: z.string().optional().openapi({
      description:
        "http://<device address>:<host port>/?token=...: shown to the lab's owner only, once the lab has a port; reachable only where your network reaches the device",
    }),
    resources: z.object({ limits: Resources, requests: Resources }),
    quota: z.object({ cpu: z.number(), memory: z.number(), gpus: z.number().int() }).optional(),
    jobId: z.string(),
    deviceId: z.string().optional(),
    hostPort: z.number().int().optional(),
    expiresAt: z.string(),
    createdAt: z.string(),
  })
  .openapi("LabState");
export type LabView = z.infer<typeof LabView>;

export const LabList = z
  .object({ items: z.array(LabView), nextPageToken: z.string().optional() })
  .openapi("LabList");

export const LabListQuery = PageQuery.extend({
  status: z.enum(["pending", "running", "terminating", "terminated", "failed"]).optional(),
});

export const LabEventsQuery = z.object({
  after: z.coerce.number().int().min(0).max(100_000).optional().openapi({
    description: "the id of the last event already seen (Last-Event-ID wins over it)",
  }),
});

/** Nublado's `PrepulledImage`, generalised (specs/labs.md §3). */
export const PrepulledImage = z
  .object({
    reference: z.string(),
    tag: z.string(),
    name: z.string(),
    digest: z.string().optional(),
    aliases: z.array(z.string()),
    prepulled: z.boolean(),
  })
  .openapi("PrepulledImage");

/** Nublado's `SpawnerImages`: the recommended image first, the menu (prepulled ones), the dropdown, all. */
export const LabImages = z
  .object({
    recommended: PrepulledImage,
    menu: z.array(PrepulledImage),
    dropdown: z.array(PrepulledImage),
    all: z.array(PrepulledImage),
  })
  .openapi("LabImages");
export type LabImages = z.infer<typeof LabImages>;

export const LabOptionsView = z
  .object({
    images: LabImages,
    allowOtherImages: z.boolean(),
    sizes: z.array(
      z.object({
        name: z.string(),
        displayName: z.string(),
        cpu: z.number().optional(),
        memoryGiB: z.number().optional(),
        gpus: z.number().int(),
        fits: z.boolean().openapi({ description: "within your lab quota" }),
      }),
    ),
    defaultSize: z.string(),
    quota: LabQuota.extend({}).openapi({ description: "your lab quota" }),
    runtime: z.enum(["container", "process"]),
  })
  .openapi("LabOptions");
export type LabOptionsView = z.infer<typeof LabOptionsView>;

/** Nublado's `PrepullerStatus` (specs/labs.md §7). */
const NodeImage = z.object({
  reference: z.string(),
  tag: z.string(),
  name: z.string(),
  digest: z.string().optional(),
  size: z.number().optional(),
  nodes: z.array(z.string()),
  missing: z.array(z.string()),
});
export const PrepullerStatus = z
  .object({
    config: z.object({ enabled: z.boolean(), timeoutSeconds: z.number(), refreshSeconds: z.number() }),
    images: z.object({ prepulled: z.array(NodeImage), pending: z.array(NodeImage) }),
    nodes: z.array(
      z.object({
        name: z.string(),
        id: z.string(),
        eligible: z.boolean(),
        comment: z.string().optional(),
        cached: z.array(z.string()),
        pulling: z.string().optional(),
      }),
    ),
  })
  .openapi("PrepullerStatus");
export type PrepullerStatus = z.infer<typeof PrepullerStatus>;

/** `GET /api/v1/fileservers/{user}`: Nublado's `FileserverStatus` with its URL. */
export const FileserverView = LabView.extend({ running: z.boolean() }).openapi("FileserverStatus");
export type FileserverView = z.infer<typeof FileserverView>;
