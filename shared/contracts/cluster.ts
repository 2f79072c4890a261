import { z } from "@hono/zod-openapi";
import { MAX_IMAGE_LENGTH } from "../domain/reservation-data.ts";
import { QuotaView } from "./quotas.ts";

const Pair = z.object({ name: z.string(), value: z.string().optional() });
const Limit = z.object({
  type: z.string(),
  value: z.string().optional(),
  defaultValue: z.string().optional(),
  maxValue: z.string().optional(),
});

/** Berth's own part of cluster info, under one key no Launcher field can collide with. */
export const ClusterInfoExtras = z.object({
  generatedAt: z.string().openapi({ description: "when the summary this answer comes from was built" }),
  targets: z.array(z.string()),
  gpuTypes: z.array(
    z.object({
      product: z.string(),
      devices: z.number().int().openapi({ description: "online devices with this GPU" }),
      gpus: z.number().int(),
      free: z.number().int().openapi({ description: "GPUs not held, on online devices that take jobs" }),
    }),
  ),
  cloudGpuFamilies: z.array(z.object({ name: z.string(), gpuType: z.string() })),
  profileGpus: z.record(z.string(), z.object({ count: z.number().int(), type: z.string().optional() })),
  maxDurationSeconds: z.number().int(),
  quotas: QuotaView,
});

/**
 * `GET /api/v1/cluster-info` (specs/launcher-extras.md §3): the Launcher's `ClusterInfo` keys, exactly, and
 * Berth's extras under `berth`. Lists are `[]`, never null.
 */
export const ClusterInfoView = z
  .object({
    supportsContainers: z.boolean(),
    supportsInitContainers: z.boolean(),
    config: z.array(z.object({ name: z.string(), valueType: z.string(), value: z.string().optional() })),
    placementConstraints: z.array(Pair),
    queues: z.array(z.string()),
    defaultQueue: z.string().optional(),
    resourceLimits: z.array(Limit),
    images: z.array(z.string()),
    defaultImage: z.string().optional(),
    allowUnknownImages: z.boolean(),
    resourceProfiles: z.array(
      z.object({
        name: z.string(),
        displayName: z.string(),
        limits: z.array(Limit),
        queue: z.string(),
        placementConstraints: z.array(Pair),
      }),
    ),
    containersUseHostNetwork: z.boolean(),
    berth: ClusterInfoExtras,
  })
  .openapi("ClusterInfo");
export type ClusterInfoView = z.infer<typeof ClusterInfoView>;

const Image = z.string().min(1, "must name an image").max(MAX_IMAGE_LENGTH);

/** `PUT /api/v1/cluster-config`: the whole config, written at the revision read (or `expectedRevision`). */
export const PutClusterConfigRequest = z
  .object({
    images: z.array(Image).max(200, "at most 200 images").default([]),
    defaultImage: Image.optional(),
    allowUnknownImages: z.boolean().default(true),
    expectedRevision: z
      .number()
      .int()
      .min(0)
      .optional()
      .openapi({ description: "refuse (409) unless the stored config is at this revision (0: none yet)" }),
  })
  .superRefine((c, ctx) => {
    const dup = c.images.find((image, i) => c.images.indexOf(image) !== i);
    if (dup) ctx.addIssue({ code: "custom", path: ["images"], message: `image ${dup} is listed twice` });
    if (!c.allowUnknownImages && c.images.length === 0)
      ctx.addIssue({
        code: "custom",
        path: ["images"],
        message: "with allowUnknownImages false no job could name an image: list the allowed images",
      });
    if (!c.allowUnknownImages && c.defaultImage && !c.images.includes(c.defaultImage))
      ctx.addIssue({
        code: "custom",
        path: ["defaultImage"],
        message: `defaultImage ${c.defaultImage} is not among the allowed images`,
      });
  })
  .openapi("PutClusterConfigRequest");
export type PutClusterConfigRequest = z.infer<typeof PutClusterConfigRequest>;

export const ClusterConfigView = z
  .object({
    images: z.array(z.string()),
    defaultImage: z.string().optional(),
    allowUnknownImages: z.boolean(),
    revision: z.number().int().openapi({ description: "0 until an admin writes the config" }),
    updatedAt: z.string().optional(),
  })
  .openapi("ClusterConfig");
export type ClusterConfigView = z.infer<typeof ClusterConfigView>;
