import { Hono } from "hono";
import { exposition, type Metric } from "../../domain/prometheus.ts";
import { Role } from "../../domain/roles.ts";
import { fleetMetrics } from "../../usecases/health/fleet-metrics.ts";
import type { AppDeps } from "../deps.ts";
import type { AppEnv } from "../env.ts";
import { operatorOr } from "./metrics.ts";

/**
 * `GET /metrics`: Prometheus text. An admin key, or a `metrics` key (a scraper's credential that can do
 * nothing else), sees its workspace: fleet, GPU health, active jobs, and the storage calls made for it in
 * this process. The operator token sees the process: storage by operation, polls, memory.
 */
export function prometheusRoutes(deps: AppDeps) {
  return new Hono<AppEnv>().get("/metrics", operatorOr(deps, Role.metrics), async (c) => {
    const workspaceId = c.get("operator") ? undefined : c.get("user").workspaceId;
    const metrics = workspaceId
      ? [...(await fleetMetrics(deps, workspaceId)), ...workspaceCounters(deps, workspaceId)]
      : processMetrics(deps);
    return c.body(exposition(metrics), 200, { "Content-Type": CONTENT_TYPE });
  });
}

const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
function workspaceCounters(deps: AppDeps, workspaceId: string): Metric[] {
  const w = deps.meter.workspace(workspaceId);
  const ws = { workspace: workspaceId };
  return [
    {
      name: "berth_storage_requests_total",
      help: "Storage calls made serving the workspace's requests in this process, by operation.",
      type: "counter",
      samples: [...w.storage].map(([operation, value]) => ({ labels: { ...ws, operation }, value })),
    },
    {
      name: "berth_agent_polls_waiting",
      help: "The workspace's agents' long polls held open by this process.",
      type: "gauge",
      samples: [{ labels: ws, value: w.pollsWaiting }],
    },
    {
      name: "berth_placement_conflicts_total",
      help: "GPU claims lost to another job and retried elsewhere, in this process.",
      type: "counter",
      samples: [{ labels: ws, value: w.placementConflicts }],
    },
  ];
}

function processMetrics(deps: AppDeps): Metric[] {
  const memory = process.memoryUsage();
  const engine = deps.storage.split(" ")[0]!;
  return [
    {
      name: "berth_storage_requests_total",
      help: "Storage calls of this process, by operation.",
      type: "counter",
      samples: Object.entries(deps.storageRequests()).map(([operation, value]) => ({
        labels: { engine, operation },
        value,
      })),
    },
    {
      name: "berth_storage_corrupt_items_skipped_total",
      help: "Stored items lists skipped because they no longer match their schema (each is logged).",
      type: "counter",
      samples: [{ labels: { engine }, value: deps.stats.corruptItems }],
    },
    {
      name: "berth_agent_polls_waiting",
      help: "Agents' long polls held open by this process.",
      type: "gauge",
      samples: [{ value: deps.feedWatcher.waiting() }],
    },
    {
      name: "berth_placement_conflicts_total",
      help: "GPU claims lost to another job and retried elsewhere, in this process.",
      type: "counter",
      samples: [{ value: deps.stats.placementConflicts }],
    },
    {
      name: "process_resident_memory_bytes",
      help: "Resident memory of this process.",
      type: "gauge",
      samples: [{ value: memory.rss }],
    },
    {
      name: "process_uptime_seconds",
      help: "Seconds since this process started.",
      type: "gauge",
      samples: [{ value: Math.round(process.uptime()) }],
    },
  ];
}
