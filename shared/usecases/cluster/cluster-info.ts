import { ClusterInfoView } from "../../contracts/cluster.ts";
import { MAX_JOB_SECONDS } from "../../contracts/jobs.ts";
import { jsonBytes } from "../../domain/bounds.ts";
import {
  CLUSTER_INFO_LEASE_SECONDS,
  CLUSTER_INFO_MAX_AGE_SECONDS,
  DEFAULT_CLUSTER_CONFIG,
} from "../../domain/cluster.ts";
import { type Device, deviceStatus, scheduling } from "../../domain/device.ts";
import { JOB_TARGETS } from "../../domain/job.ts";
import { cpuCapacity, gpuIndices, memoryCapacityGiB, runsContainers } from "../../domain/placement.ts";
import type { Profile } from "../../domain/profile.ts";
import type { Page, PageRequest } from "../../ports/pagination.ts";
import { hasCloud, type JobDeps } from "../deps.ts";
import { getQuota } from "../jobs/quotas.ts";

/** What the summary item holds: cluster info without the workspace's cluster config (read per request). */
const StoredInfo = ClusterInfoView.omit({ images: true, defaultImage: true, allowUnknownImages: true });
type StoredInfo = ReturnType<typeof StoredInfo.parse>;

/** The custom JobConfigs Berth reads at submit, as the Launcher advertises them. */
const CONFIG = [
  { name: "target", valueType: "string", value: "fleet" },
  { name: "gpus", valueType: "int" },
  { name: "gpuType", valueType: "string" },
  { name: "maxDuration", valueType: "int", value: "86400" },
];
const MAX_LABEL_CONSTRAINTS = 200;
const MAX_PROFILES = 200;
/** What the summary item may weigh (DynamoDB's items stop at 400 KB). */
const MAX_SUMMARY_BYTES = 300_000;
/** Past this many devices the summary is built from the first ones (a page of 200 at a time). */
const MAX_DEVICES = 20_000;

/** Every item of a paged list, up to `max`. */
async function all<T>(list: (page: PageRequest) => Promise<Page<T>>, max: number): Promise<T[]> {
  const out: T[] = [];
  let cursor: PageRequest["cursor"];
  do {
    const page = await list({ limit: 200, cursor });
    out.push(...page.items);
    cursor = page.cursor;
  } while (cursor && out.length < max);
  return out.slice(0, max);
}

/** Distinct `{name, value}` pairs, sorted. */
function pairs(entries: [string, string][]): { name: string; value: string }[] {
  const seen = new Map(
    entries.filter(([, v]) => v !== "").map(([n, v]) => [`${n}\u0000${v}`, { name: n, value: v }]),
  );
  return [...seen.values()].sort((a, b) => a.name.localeCompare(b.name) || a.value.localeCompare(b.value));
}

/** GPU products of online devices: how many devices have them, how many GPUs, how many are free to place on. */
function gpuTypes(online: Device[]) {
  const types = new Map<string, { product: string; devices: Set<string>; gpus: number; free: number }>();
  for (const d of online) {
    const takes = scheduling(d) === "eligible";
    for (const index of gpuIndices(d)) {
      const product = d.info.gpus.find((g) => g.index === index)?.product || "unknown";
      const t = types.get(product) ?? { product, devices: new Set(), gpus: 0, free: 0 };
      t.devices.add(d.id);
      t.gpus++;
      if (takes && !(String(index) in d.gpuOwners)) t.free++;
      types.set(product, t);
    }
  }
  return [...types.values()]
    .map((t) => ({ product: t.product, devices: t.devices.size, gpus: t.gpus, free: t.free }))
    .sort((a, b) => a.product.localeCompare(b.product));
}

/** Builds the summary from the fleet, the node groups, the profiles and the quota (a page of devices at a time). */
export async function buildClusterInfo(deps: JobDeps, ws: string, now: Date): Promise<StoredInfo> {
  const devices = await all((p) => deps.repos.devices.list(ws, p), MAX_DEVICES);
  const groups = await all((p) => deps.repos.nodeGroups.list(ws, p), 10_000);
  const profiles: Profile[] = await all((p) => deps.repos.profiles.list(ws, p), MAX_PROFILES);
  const online = devices.filter(
    (d) => deviceStatus(d.lastSeenAt, now, deps.config.deviceTtlSeconds) === "online",
  );
  const labels = pairs(devices.flatMap((d) => Object.entries(d.labels))).slice(0, MAX_LABEL_CONSTRAINTS);
  const attributes = pairs(
    devices.flatMap((d): [string, string][] => [
      ...d.info.gpus.map((g): [string, string] => ["gpu.product", g.product ?? ""]),
      ["nodeGroup", d.nodeGroup],
      ["arch", d.info.architecture ?? ""],
      ["region", d.info.region ?? ""],
    ]),
  );
  const maxCores = Math.max(0, ...devices.map(cpuCapacity));
  const maxMb = Math.floor(Math.max(0, ...devices.map(memoryCapacityGiB)) * 1024);
  const bound = (type: string, max: number) => ({ type, ...(max > 0 ? { maxValue: String(max) } : {}) });
  return {
    supportsContainers: online.some(runsContainers) || hasCloud(deps),
    supportsInitContainers: false,
    config: CONFIG,
    placementConstraints: [...attributes, ...labels],
    queues: groups.map((g) => g.name),
    // Swap is bounded by nothing Berth knows; memory's bound is the one a device could hold.
    resourceLimits: [bound("cpuCount", maxCores), bound("memory", maxMb), bound("memorySwap", maxMb)],
    resourceProfiles: profiles.map((p) => ({
      name: p.name,
      displayName: p.displayName,
      limits: p.limits,
      queue: p.queue ?? "",
      placementConstraints: p.placementConstraints,
    })),
    containersUseHostNetwork: false,
    berth: {
      generatedAt: now.toISOString(),
      targets: [...JOB_TARGETS],
      gpuTypes: gpuTypes(online),
      cloudGpuFamilies: hasCloud(deps) ? (deps.cloud.families ?? []) : [],
      profileGpus: Object.fromEntries(
        profiles
          .filter((p) => p.gpus)
          .map((p) => [p.name, { count: p.gpus!.count, ...(p.gpus!.type ? { type: p.gpus!.type } : {}) }]),
      ),
      maxDurationSeconds: MAX_JOB_SECONDS,
      quotas: await getQuota(deps, ws),
    },
  };
}

/** The stored summary, if it is there and parses (an older shape is rebuilt, not served). */
async function storedSummary(deps: JobDeps, ws: string) {
  const s = await deps.repos.cluster.summary(ws);
  const info = s?.info ? StoredInfo.safeParse(s.info) : undefined;
  return { generatedAt: s?.generatedAt, info: info?.success ? info.data : undefined };
}

/**
 * `GET /api/v1/cluster-info` (specs/launcher-extras.md §3), from one summary item per workspace. A request
 * that finds it older than a minute rebuilds it under a lease (one rebuilder; the others serve the copy they
 * read); with no copy at all, a request that lost the lease builds one for itself without storing it.
 */
export async function getClusterInfo(deps: JobDeps, ws: string): Promise<ClusterInfoView> {
  const now = deps.clock.now();
  const [summary, config] = await Promise.all([storedSummary(deps, ws), deps.repos.cluster.config(ws)]);
  let info = summary.info;
  const age = summary.generatedAt
    ? now.getTime() - Date.parse(summary.generatedAt)
    : Number.POSITIVE_INFINITY;
  if (!info || age > CLUSTER_INFO_MAX_AGE_SECONDS * 1000) {
    const taken = await deps.repos.cluster.leaseRebuild(ws, {
      now: now.toISOString(),
      until: new Date(now.getTime() + CLUSTER_INFO_LEASE_SECONDS * 1000).toISOString(),
      staleBefore: new Date(now.getTime() - CLUSTER_INFO_MAX_AGE_SECONDS * 1000).toISOString(),
    });
    if (taken || !info) {
      info = await buildClusterInfo(deps, ws, now);
      // One item holds it: a workspace whose summary would not fit (hundreds of large profiles) builds it each time.
      if (taken && jsonBytes(info) <= MAX_SUMMARY_BYTES)
        await deps.repos.cluster.putSummary(ws, info, info.berth.generatedAt);
      else if (taken)
        deps.logger.warn("cluster info is too large to keep; built per request", { workspaceId: ws });
    }
  }
  const c = config ?? DEFAULT_CLUSTER_CONFIG;
  const defaultImage = c.defaultImage ?? (hasCloud(deps) ? deps.cloud.defaultImage : undefined);
  return {
    ...info,
    images: c.images,
    ...(defaultImage ? { defaultImage } : {}),
    allowUnknownImages: c.allowUnknownImages,
  };
}
