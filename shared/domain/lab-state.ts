import { z } from "zod";
import type { DeviceImage } from "./device.ts";
import { isFinalJob, type Job, type JobEvent, JobStatus, LAB_KINDS, type LabKind } from "./job.ts";
import type { LabConfig } from "./lab.ts";

export type { DeviceImage } from "./device.ts";

/**
 * A user's lab as it runs (specs/labs.md §4–§6). The per-user item (`WS#<ws>` / `LAB#<user>`, or
 * `LAB#<user>#fileserver`) holds what the user asked for and the operation in progress; the job carries
 * the rest (where it runs, its host port, when it answered). A lab's status and its progress events are
 * derived from both, so nothing has to be kept in step with the job.
 */

export { JobLab, LAB_KINDS, type LabKind } from "./job.ts";

/** Nublado's `LabStatus`. */
export const LAB_STATUSES = ["pending", "running", "terminating", "terminated", "failed"] as const;
export type LabStatus = (typeof LAB_STATUSES)[number];

export const LabOptions = z.object({
  image: z.string(),
  size: z.string(),
  enableDebug: z.boolean(),
  resetUserEnv: z.boolean(),
});
export type LabOptions = z.infer<typeof LabOptions>;

export const LabItem = z.object({
  workspaceId: z.string(),
  user: z.string(),
  kind: z.enum(LAB_KINDS),
  /** The key that spawned it (its owner). */
  ownerKeyId: z.string(),
  jobId: z.string(),
  /** `spawn` until the lab runs or fails; `delete` from a delete until the job has ended. */
  operation: z.enum(["spawn", "delete"]),
  /** Each operation has its own id: the events of one never mix with another's. */
  operationId: z.string(),
  operationAt: z.string(),
  /** The failed or terminated lab this spawn deleted first (its job), for the events. */
  replaced: z.string().optional(),
  options: LabOptions,
  resources: z.object({ cpu: z.number(), memoryGiB: z.number(), gpus: z.number().int() }),
  /** A file server's end (renewed by `renew`). */
  expiresAt: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  v: z.number().int().min(1),
});
export type LabItem = z.infer<typeof LabItem>;

/** Nublado's lab status, from the item and its job (specs/labs.md §5). */
export function labStatus(item: Pick<LabItem, "operation">, job: Job | undefined): LabStatus {
  if (!job) return "failed";
  if (isFinalJob(job.status)) {
    if (job.status === JobStatus.Failed) return "failed";
    // It ended before it ever answered, and nobody ended it: the spawn failed.
    if (!job.lab?.readyAt && item.operation === "spawn") return "failed";
    return "terminated";
  }
  if (item.operation === "delete" || job.controlRequested) return "terminating";
  return job.status === JobStatus.Running && job.lab?.readyAt ? "running" : "pending";
}

/** The operation still under way: a spawn whose lab is not up yet, or a delete whose job has not ended. */
export function operationInProgress(item: LabItem, job: Job | undefined): "spawn" | "delete" | undefined {
  if (item.operation === "delete") return job && !isFinalJob(job.status) ? "delete" : undefined;
  return labStatus(item, job) === "pending" ? "spawn" : undefined;
}

/** A delete whose job has ended: the lab is gone (the item is left only until someone clears it). */
export const isDeleted = (item: LabItem, job: Job | undefined) =>
  item.operation === "delete" && (!job || isFinalJob(job.status));

/** One of Nublado's lab events (`Event.to_sse`): `info`, `error`, `failed` or `complete`. */
export interface LabEvent {
  type: "info" | "error" | "failed" | "complete";
  message: string;
  progress?: number;
}

const PULL_START = 35;
const PULL_END = 75;

/**
 * The events of the item's current operation, in order, from the job's lifecycle events (which only ever
 * grow, so a replay is the same list again: the n-th event keeps its place). Ends with `complete` or `failed`
 * once the operation is over.
 */
export function labEvents(item: LabItem, job: Job | undefined, events: JobEvent[]): LabEvent[] {
  const who = item.user;
  const what = labWord(item.kind);
  if (item.operation === "delete") {
    const out: LabEvent[] = [{ type: "info", message: `Shutting down ${what} container`, progress: 25 }];
    if (!job || isFinalJob(job.status))
      out.push(
        { type: "info", message: `${cap(what)} for ${who} deleted`, progress: 100 },
        { type: "complete", message: `${cap(what)} for ${who} deleted` },
      );
    return out;
  }
  const out: LabEvent[] = [{ type: "info", message: `Starting ${what} creation for ${who}`, progress: 1 }];
  if (item.replaced)
    out.push(
      { type: "info", message: `Deleting existing failed ${what} for ${who}`, progress: 2 },
      { type: "info", message: `Existing ${what} for ${who} deleted`, progress: 20 },
    );
  let waited = false;
  let pull = 0;
  const failed = (message: string) => {
    out.push({ type: "error", message }, { type: "failed", message: `${cap(what)} creation failed` });
    return out;
  };
  for (const e of events) {
    switch (e.type) {
      case "waiting":
        if (!waited)
          out.push({
            type: "info",
            message: `Waiting for a device with room for size ${item.options.size}: ${e.message}`,
            progress: 25,
          });
        waited = true;
        break;
      case "placed":
        out.push({ type: "info", message: `Placed on device ${placedOn(e.message)}`, progress: 30 });
        break;
      case "pulling":
        pull = pull === 0 ? PULL_START : Math.round(pull + (PULL_END - pull) / 3);
        out.push({ type: "info", message: e.message, progress: pull });
        break;
      case "started":
        out.push({ type: "info", message: `${cap(what)} container started`, progress: 80 });
        break;
      case "listening":
        out.push({ type: "info", message: e.message, progress: 90 });
        break;
      case "ready":
        out.push({ type: "complete", message: `${cap(what)} for ${who} is ready` });
        return out;
      case "timeout":
        return failed(e.message);
      default:
        if (isFinalJob(e.status)) return failed(e.message);
    }
  }
  // A job read after its events (it ended in between): the end is in the next read of its events.
  return out;
}

/** How messages name a kind of lab: "lab" or "file server". */
export const labWord = (kind: LabKind) => (kind === "fileserver" ? "file server" : "lab");
/** The word with a capital (a message's start). */
export const cap = (s: string) => s[0]!.toUpperCase() + s.slice(1);
/** "placed on gpu-1 (GPU 0, 1)" → "gpu-1 (GPU 0, 1)". */
const placedOn = (message: string) => message.replace(/^placed on /, "");

/** The image a spawn names, Nublado's way (specs/labs.md §4): exactly one attribute, resolved to a reference. */
export const DROPDOWN_SENTINEL = "use_image_from_dropdown";

export interface ImageChoice {
  imageList?: string;
  imageDropdown?: string;
  imageClass?: string;
  imageTag?: string;
}

export type ImageResolution =
  | { ok: true; reference: string }
  | { ok: false; status: 400; code: "bad" | "unknown"; message: string; path: string };

/** The repository of a reference, without its tag or digest: `ghcr.io/acme/lab:2026.07` → `ghcr.io/acme/lab`. */
export function repositoryOf(reference: string): string {
  const at = reference.indexOf("@");
  const base = at >= 0 ? reference.slice(0, at) : reference;
  const slash = base.lastIndexOf("/");
  const colon = base.lastIndexOf(":");
  return colon > slash ? base.slice(0, colon) : base;
}

/** The tag of a reference (`latest` when it has none, as Docker reads it). */
export function tagOf(reference: string): string {
  const base = reference.split("@")[0]!;
  const slash = base.lastIndexOf("/");
  const colon = base.lastIndexOf(":");
  return colon > slash ? base.slice(colon + 1) : "latest";
}

export function resolveImage(choice: ImageChoice, images: LabConfig["images"]): ImageResolution {
  const given: [string, string][] = [];
  if (choice.imageList !== undefined && choice.imageList !== "") {
    if (choice.imageList === DROPDOWN_SENTINEL) {
      if (choice.imageDropdown) given.push(["imageDropdown", choice.imageDropdown]);
    } else given.push(["imageList", choice.imageList]);
  } else if (choice.imageDropdown) given.push(["imageDropdown", choice.imageDropdown]);
  if (choice.imageClass) given.push(["imageClass", choice.imageClass]);
  if (choice.imageTag) given.push(["imageTag", choice.imageTag]);
  if (given.length === 0)
    return { ok: false, status: 400, code: "bad", message: "No image to spawn specified", path: "options" };
  if (given.length > 1)
    return {
      ok: false,
      status: 400,
      code: "bad",
      message: `Image specified multiple ways (${given.map(([k]) => k).join(", ")})`,
      path: `options.${given[1]![0]}`,
    };
  const [attr, value] = given[0]!;
  const path = `options.${attr}`;
  const unknown = (message: string): ImageResolution => ({
    ok: false,
    status: 400,
    code: "unknown",
    message,
    path,
  });
  const known = [
    images.recommended,
    ...images.menu.map((m) => m.reference),
    ...images.dropdown.map((m) => m.reference),
  ];
  if (attr === "imageClass") {
    if (value !== "recommended")
      return unknown(`Unknown image class ${value} (the only class is recommended)`);
    return { ok: true, reference: images.recommended };
  }
  if (attr === "imageTag") {
    const reference = `${repositoryOf(images.recommended)}:${value}`;
    if (!known.includes(reference) && !images.allowOtherImages)
      return unknown(`No image with tag ${value} in ${repositoryOf(images.recommended)}`);
    return { ok: true, reference };
  }
  if (!known.includes(value) && !images.allowOtherImages) return unknown(`Unknown image ${value}`);
  return { ok: true, reference: value };
}

/** Whether a device's images include `reference` (by reference; `name` and `name:latest` are the same). */
export function hasImage(images: readonly DeviceImage[], reference: string): DeviceImage | undefined {
  const norm = (r: string) =>
    r.includes("@") || tagOf(r) !== "latest" || r.endsWith(":latest") ? r : `${r}:latest`;
  const want = norm(reference);
  return images.find((i) => norm(i.reference) === want || (i.digest && reference.endsWith(`@${i.digest}`)));
}
