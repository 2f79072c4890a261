import { deviceStatus, scheduling } from "../../domain/device.ts";
import { effectiveHealth } from "../../domain/gpu-health.ts";
import { JobStatus } from "../../domain/job-status.ts";
import { gpuIndices } from "../../domain/placement.ts";
import { countBy, type Metric } from "../../domain/prometheus.ts";
import type { JobDeps } from "../deps.ts";

const ACTIVE = [JobStatus.Pending, JobStatus.Running, JobStatus.Suspended];

/** At most this many active jobs are read per scrape (the active-jobs index, all shards). */
const MAX_ACTIVE_JOBS = 10_000;

/**
 * A workspace's fleet as Prometheus metrics: devices by status and health, GPUs by state, Unhealthy GPUs one
 * series each, active jobs by status. One read of the workspace's devices and one of the active-jobs index.
 */
export async function fleetMetrics(deps: JobDeps, workspaceId: string): Promise<Metric[]> {
  const now = deps.clock.now();
  const ttl = deps.config.deviceTtlSeconds;
  const [devices, active, pending] = await Promise.all([
    deps.repos.devices.listAll(workspaceId),
    deps.repos.jobs.active(MAX_ACTIVE_JOBS),
    deps.repos.jobs.pending(workspaceId, MAX_ACTIVE_JOBS),
  ]);
  const ws = { workspace: workspaceId };
  const views = devices.map((d) => {
    const online = deviceStatus(d.lastSeenAt, now, ttl) === "online";
    return { d, online, health: effectiveHealth(d.health, online, now) };
  });
  const gpus = { allocated: 0, free: 0, unhealthy: 0 };
  const unhealthyGpus: { labels: Record<string, string | number>; value: number }[] = [];
  for (const { d, health } of views) {
    const sick = new Set(health?.unhealthyGpus ?? []);
    for (const i of gpuIndices(d)) {
      if (String(i) in d.gpuOwners) gpus.allocated++;
      else if (sick.has(i) || health?.deviceUnhealthy) gpus.unhealthy++;
      else gpus.free++;
      if (sick.has(i)) {
        const uuid = d.info.gpus.find((g) => g.index === i)?.uuid ?? "";
        unhealthyGpus.push({ labels: { ...ws, device: d.id, device_name: d.name, gpu: i, uuid }, value: 1 });
      }
    }
  }
  // The active index holds jobs placed on devices; pending ones are in the workspace's pending index.
  const ids = new Set<string>();
  const jobs = [...active.filter((j) => j.workspaceId === workspaceId), ...pending].filter(
    (j) => !ids.has(j.id) && ids.add(j.id),
  );
  return [
    {
      name: "berth_devices",
      help: "Devices by status (online/offline) and scheduling (eligible/cordoned/draining).",
      type: "gauge",
      samples: countBy(views, ({ d, online }) => ({
        ...ws,
        status: online ? "online" : "offline",
        scheduling: scheduling(d),
      })),
    },
    {
      name: "berth_device_health",
      help: "Devices by GPU health state (none: never reported).",
      type: "gauge",
      samples: countBy(views, ({ health }) => ({ ...ws, state: health?.state ?? "none" })),
    },
    {
      name: "berth_gpus",
      help: "GPUs by state: allocated to a job or application, free, or unhealthy (skipped by placement).",
      type: "gauge",
      samples: Object.entries(gpus).map(([state, value]) => ({ labels: { ...ws, state }, value })),
    },
    {
      name: "berth_gpu_unhealthy",
      help: "1 for each GPU its device reports Unhealthy.",
      type: "gauge",
      samples: unhealthyGpus,
    },
    {
      name: "berth_jobs_active",
      help: "Jobs not yet ended, by status.",
      type: "gauge",
      samples: ACTIVE.map((status) => ({
        labels: { ...ws, status },
        value: jobs.filter((j) => j.status === status).length,
      })),
    },
  ];
}
