import type { AgentReservation } from "../../shared/contracts/reservations.ts";
import { registerAgent, type SimAgent } from "./agents.ts";
import type { TestApp } from "./app.ts";

export interface JobView {
  id: string;
  status: string;
  statusCode?: string;
  statusMessage: string;
  exitCode?: number;
  host?: string;
  user: string;
  gpus: { count: number; type?: string };
  [key: string]: unknown;
}

/** A simulated agent with `gpus` GPUs of `product`, that keeps its own feed cursor. */
export async function gpuAgent(
  t: TestApp,
  gpus: number,
  opts: {
    product?: string;
    admin?: string;
    labels?: Record<string, string>;
    /** What its agent reports it can run: containers too (Docker answers), by default. */
    docker?: boolean;
    resources?: Record<string, string>;
    /** The addresses its login reports (`network.privateIP`, `network.publicIP`). */
    network?: { privateIP?: string; publicIP?: string };
    /** The agent protocol it logs in with (default 1, as GPUd). */
    protocol?: number;
  } = {},
) {
  const product = opts.product ?? "NVIDIA A100-SXM4-80GB";
  const agent = await registerAgent(t, {
    admin: opts.admin,
    login: {
      resources: {
        cpu: "32",
        memory: "256Gi",
        ...(gpus ? { "nvidia.com/gpu": String(gpus) } : {}),
        ...opts.resources,
      },
      machineInfo: {
        hostname: `host-${Math.random().toString(36).slice(2, 8)}`,
        ...(opts.docker === false ? {} : { containerRuntimeVersion: "docker://27.3.1" }),
        gpuInfo: {
          product,
          memory: "80Gi",
          gpus: Array.from({ length: gpus }, (_, i) => ({ uuid: `GPU-${i}`, minorID: String(i) })),
        },
      },
      ...(opts.labels ? { nodeLabels: opts.labels } : {}),
      ...(opts.protocol ? { protocol: opts.protocol } : {}),
      ...(opts.network ? { network: opts.network } : {}),
    },
  });
  let cursor = (await agent.poll(0)).next;
  return Object.assign(agent, {
    /** What the feed has for this device now (applies, removals, controls), advancing the cursor. */
    async take(): Promise<AgentReservation[]> {
      const res = await agent.poll(cursor, 0);
      cursor = res.next;
      return res.reservations;
    },
  });
}
export type GpuAgent = SimAgent & { take(): Promise<AgentReservation[]> };

export async function submit(t: TestApp, body: Record<string, unknown>, token = t.admin) {
  const res = await t.call("POST", "/api/v1/jobs", {
    token,
    body: { exe: "python", args: ["train.py"], ...body },
  });
  return {
    status: res.status,
    body: (await res.json()) as JobView & { error?: { code: string; message: string; details?: unknown } },
  };
}

export async function job(t: TestApp, id: string, token = t.admin): Promise<JobView> {
  return (await (await t.call("GET", `/api/v1/jobs/${id}`, { token })).json()) as JobView;
}

export async function control(t: TestApp, id: string, operation: string, token = t.admin) {
  const res = await t.call("POST", `/api/v1/jobs/${id}/control`, { token, body: { operation } });
  return {
    status: res.status,
    body: (await res.json()) as JobView & { error?: { code: string; message: string } },
  };
}

/** Runs a job on a simulated agent: takes its reservation, reports the start. Returns the reservation. */
export async function start(agent: GpuAgent, jobId: string): Promise<AgentReservation> {
  const r = (await agent.take()).find((x) => !x.toDelete && !x.control);
  if (!r) throw new Error(`no reservation for job ${jobId} on device ${agent.deviceId}`);
  await agent.started(r.id);
  return r;
}
