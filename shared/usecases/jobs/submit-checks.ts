import { MAX_JOB_SECONDS, type SubmitJobRequest } from "../../contracts/jobs.ts";
import { DEFAULT_CLUSTER_CONFIG, imageRefusal } from "../../domain/cluster.ts";
import { BerthError, ErrorCode, invalidRequest } from "../../domain/errors.ts";
import { JOB_TARGETS, type Job } from "../../domain/job.ts";
import { readLimits } from "../../domain/resource-limits.ts";
import type { StoreDeps } from "../deps.ts";

/** Whether a job runs in a container: it names an image, or it goes to the cloud (which runs every job in one). */
const inContainer = (job: Pick<Job, "container" | "target">) => !!job.container || job.target === "cloud";

/**
 * A job's resource limits at submit (specs/launcher-extras.md §4); throws the 400 that refuses it, before
 * anything is stored. Limits bind containers only: a process job that names a limit itself is 400
 * RequestNotSupported. One whose limits come from its profile alone runs without them (they still say
 * what it holds on its device, as placement counts them): a profile is a size shared by both kinds of job.
 * A container job's limits must read: `cpuTime` and unknown types are RequestNotSupported, a value above
 * its maxValue (or memorySwap without memory) is InvalidRequest.
 */
export function checkJobLimits(
  job: Pick<Job, "container" | "target" | "resourceLimits">,
  requested: boolean,
): void {
  if (!inContainer(job)) {
    if (requested)
      throw new BerthError(
        ErrorCode.RequestNotSupported,
        "resource limits need a container image: Berth enforces them with Docker (give container.image, or leave resourceLimits out)",
        [{ path: "resourceLimits", message: "needs container.image" }],
      );
    return;
  }
  const [problem] = readLimits(job.resourceLimits).problems;
  if (problem) throw problem;
}

/**
 * The workspace's cluster config at submit: with `allowUnknownImages: false`, a job naming an image that is
 * not listed is 400 InvalidRequest naming the allowed ones. A job with no image is not checked (a cloud job
 * without one runs the launcher's default image).
 */
export async function checkJobImage(deps: StoreDeps, job: Pick<Job, "workspaceId" | "container">) {
  if (!job.container) return;
  const config = (await deps.repos.cluster.config(job.workspaceId)) ?? DEFAULT_CLUSTER_CONFIG;
  const refusal = imageRefusal(config, job.container.image);
  if (refusal) throw invalidRequest(refusal, [{ path: "container.image", message: "not allowed" }]);
}

/** The Launcher's custom JobConfigs Berth reads at submit (cluster info's `config` advertises them). */
const JOB_CONFIG_NAMES = ["target", "gpus", "gpuType", "maxDuration"] as const;

/**
 * A submit's `config[]` entries named `target`, `gpus`, `gpuType` or `maxDuration` set those fields when the
 * request itself leaves them out (`given`: the keys the request's JSON had); a value that does not read is a
 * 400 naming the entry. `gpuType` alone asks for one GPU of that type.
 */
export function withJobConfig(input: SubmitJobRequest, given: ReadonlySet<string>): SubmitJobRequest {
  const entry = (name: (typeof JOB_CONFIG_NAMES)[number]) => {
    const i = input.config.findIndex((c) => c.name === name && c.value !== undefined);
    return i < 0 ? undefined : { i, value: input.config[i]!.value!.trim() };
  };
  const bad = (i: number, message: string) =>
    invalidRequest(`config ${input.config[i]!.name}: ${message}`, [{ path: `config.${i}.value`, message }]);
  const whole = (name: "gpus" | "maxDuration", min: number, max: number) => {
    const e = entry(name);
    if (!e) return undefined;
    const n = Number(e.value);
    if (!/^\d+$/.test(e.value) || n < min || n > max)
      throw bad(e.i, `"${e.value}" is not a whole number from ${min} to ${max}`);
    return n;
  };
  const out = { ...input };
  const target = entry("target");
  if (target && !given.has("target")) {
    if (!(JOB_TARGETS as readonly string[]).includes(target.value))
      throw bad(target.i, `"${target.value}" is not one of ${JOB_TARGETS.join(", ")}`);
    out.target = target.value as SubmitJobRequest["target"];
  }
  const maxDuration = whole("maxDuration", 1, MAX_JOB_SECONDS);
  if (maxDuration !== undefined && !given.has("maxDuration")) out.maxDuration = maxDuration;
  const count = whole("gpus", 0, 64);
  const type = entry("gpuType");
  if (type && type.value.length > 256) throw bad(type.i, "must be at most 256 characters");
  if ((count !== undefined || type) && !given.has("gpus"))
    out.gpus = { count: count ?? 1, ...(type?.value ? { type: type.value } : {}) };
  return out;
}
