import type { BatchV1Api, CoreV1Api, V1Job, V1Pod, V1Toleration } from "@kubernetes/client-node";
import { kubernetesJobName, type TaskObservation, type TaskRef } from "../../domain/cloud-reservation.ts";
import {
  type LaunchRequest,
  type LaunchResult,
  type TaskLauncher,
  TransientLaunchError,
} from "../../ports/cloud.ts";

/** Where and how jobs run on EKS. */
export interface EksSettings {
  /** The EKS cluster's name (signed into the token) and its API server. */
  cluster: string;
  endpoint: string;
  /** The API server's CA certificate, base64 (as `aws eks describe-cluster` gives it). */
  caData?: string;
  namespace: string;
  /** The image of jobs that name none. */
  defaultImage: string;
  /**
   * Node selector per GPU family: the key is matched (case-insensitively) against the job's GPU type;
   * `default` for jobs that name no type (e.g. `{"L4": {"node.kubernetes.io/instance-type": "g6.xlarge"}}`).
   */
  nodeSelectors: Record<string, Record<string, string>>;
  tolerations: V1Toleration[];
  /** How long a finished Job stays for its status to be read. */
  ttlSecondsAfterFinished: number;
}

/** Tokens are valid for ~15 minutes; a new one is made well before. */
const TOKEN_REUSE_MS = 10 * 60_000;

/** The HTTP status of a Kubernetes API error (the client's ApiException), if it is one. */
const status = (err: unknown) => {
  const code = (err as { code?: unknown }).code;
  return typeof code === "number" ? code : undefined;
};
const transient = (err: unknown) => {
  const code = status(err);
  return code === undefined || code === 429 || code >= 500;
};
const describe = (err: unknown) => {
  if (status(err) === undefined) return (err as Error).message;
  const raw = (err as { body?: unknown }).body;
  const body = typeof raw === "string" ? raw : JSON.stringify(raw);
  try {
    return (JSON.parse(body) as { message?: string }).message ?? body;
  } catch {
    return body;
  }
};

/** A container's limits: its GPUs, and its resource limits' CPUs and memory (`<N>Mi`), each when asked for. */
function containerResources(req: LaunchRequest): { resources?: { limits: Record<string, string> } } {
  const limits: Record<string, string> = {
    ...(req.gpus.count > 0 ? { "nvidia.com/gpu": String(req.gpus.count) } : {}),
    ...(req.limits?.cpus ? { cpu: String(req.limits.cpus) } : {}),
    ...(req.limits?.memoryMiB ? { memory: `${req.limits.memoryMiB}Mi` } : {}),
  };
  return Object.keys(limits).length > 0 ? { resources: { limits } } : {};
}

/** The Job manifest for a launch: deterministic name, no retries, a deadline, GPUs, GPU nodes only. */
export function jobManifest(
  settings: EksSettings,
  req: LaunchRequest,
  nodeSelector: Record<string, string>,
): V1Job {
  const labels = {
    "berth.dev/reservation": req.reservationId,
    "berth.dev/workspace": req.workspaceId,
    "berth.dev/job": req.jobId,
  };
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: {
      name: kubernetesJobName({ id: req.reservationId, attempt: req.attempt }),
      namespace: settings.namespace,
      labels,
    },
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: req.maxDuration,
      ttlSecondsAfterFinished: settings.ttlSecondsAfterFinished,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: "Never",
          nodeSelector,
          tolerations: settings.tolerations,
          containers: [
            {
              name: "job",
              image: req.image ?? settings.defaultImage,
              ...(req.command.length > 0 ? { command: req.command } : {}),
              env: req.environment,
              ...(req.workingDirectory ? { workingDir: req.workingDirectory } : {}),
              ...containerResources(req),
            },
          ],
        },
      },
    },
  };
}

/** What a Job and its pod say of the work (Kubernetes sends no events Berth listens to: the reconciler asks). */
export function observeKubernetesJob(job: V1Job, pod: V1Pod | undefined): TaskObservation {
  const container = pod?.status?.containerStatuses?.[0];
  const terminated = container?.state?.terminated;
  const running = container?.state?.running;
  const waiting = container?.state?.waiting;
  const condition = job.status?.conditions?.find(
    (c) => (c.type === "Complete" || c.type === "Failed") && c.status === "True",
  );
  const startedAt = (terminated?.startedAt ?? running?.startedAt)?.toISOString?.();
  if (condition || terminated) {
    const reason = terminated?.reason ?? condition?.reason;
    const message = [reason, condition?.message].filter(Boolean).join(": ");
    return {
      phase: "stopped",
      lastStatus: condition?.type ?? "Terminated",
      ...(startedAt ? { startedAt } : {}),
      ...(terminated?.exitCode !== undefined ? { exitCode: terminated.exitCode } : {}),
      ...(message ? { reason: message } : {}),
      ...(condition?.reason === "DeadlineExceeded" ? { expired: true } : {}),
      ...(!terminated && condition?.type === "Failed" && condition.reason !== "DeadlineExceeded"
        ? { neverStarted: true }
        : {}),
    };
  }
  if (running) return { phase: "running", lastStatus: "Running", ...(startedAt ? { startedAt } : {}) };
  return { phase: "pending", lastStatus: waiting?.reason ?? pod?.status?.phase ?? "waiting for a pod" };
}

/**
 * Starts jobs as Kubernetes Jobs on EKS (specs/cloud.md): `batch/v1` Jobs named `res-<reservation>-<attempt>`
 * (so a second create is a 409, which means the Job is ours), with GPU limits, the GPU toleration and a
 * node selector per GPU family. Authenticates with an STS-presigned token (see token.ts).
 */
export function eksLauncher(settings: EksSettings, token: () => Promise<string>): TaskLauncher {
  let clients: { at: number; batch: BatchV1Api; core: CoreV1Api } | undefined;
  const api = async () => {
    if (clients && Date.now() - clients.at < TOKEN_REUSE_MS) return clients;
    // Loaded on first use: the client is heavy, and most control planes never talk to Kubernetes.
    const { BatchV1Api, CoreV1Api, KubeConfig } = await import("@kubernetes/client-node");
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [
        { name: settings.cluster, server: settings.endpoint, caData: settings.caData, skipTLSVerify: false },
      ],
      users: [{ name: "berth", token: await token() }],
      contexts: [{ name: "berth", cluster: settings.cluster, user: "berth" }],
      currentContext: "berth",
    });
    clients = { at: Date.now(), batch: kc.makeApiClient(BatchV1Api), core: kc.makeApiClient(CoreV1Api) };
    return clients;
  };
  const split = (task: TaskRef) => {
    const [namespace, name] = task.id.split("/") as [string, string];
    return { namespace, name };
  };
  const nodeSelector = (type: string | undefined) => {
    if (!type) return settings.nodeSelectors.default ?? {};
    const wanted = type.toLowerCase();
    const key = Object.keys(settings.nodeSelectors).find(
      (k) => k !== "default" && (wanted === k.toLowerCase() || wanted.includes(k.toLowerCase())),
    );
    return key ? settings.nodeSelectors[key] : undefined;
  };

  return {
    kind: "eks",
    async launch(req: LaunchRequest): Promise<LaunchResult> {
      const selector = nodeSelector(req.gpus.type);
      if (!selector) {
        return {
          kind: "rejected",
          reason: `no GPU family for type ${req.gpus.type} (configured: ${Object.keys(settings.nodeSelectors).join(", ")})`,
        };
      }
      const body = jobManifest(settings, req, selector);
      const task: TaskRef = { launcher: "eks", id: `${settings.namespace}/${body.metadata!.name}` };
      try {
        await (await api()).batch.createNamespacedJob({ namespace: settings.namespace, body });
        return { kind: "launched", task };
      } catch (err) {
        if (status(err) === 409) return { kind: "launched", task }; // the same name: created by an earlier try
        if (transient(err)) throw new TransientLaunchError(`Kubernetes: ${describe(err)}`, { cause: err });
        return { kind: "rejected", reason: `Kubernetes refused the Job (${status(err)}): ${describe(err)}` };
      }
    },

    async observe(tasks) {
      const seen = new Map<string, TaskObservation>();
      const { batch, core } = await api();
      for (const task of tasks) {
        const { namespace, name } = split(task);
        try {
          const job = await batch.readNamespacedJob({ name, namespace });
          const pods = await core.listNamespacedPod({ namespace, labelSelector: `job-name=${name}` });
          seen.set(task.id, observeKubernetesJob(job, pods.items[0]));
        } catch (err) {
          if (status(err) === 404)
            seen.set(task.id, { phase: "stopped", lastStatus: "NotFound", missing: true });
          else throw new TransientLaunchError(`Kubernetes: ${describe(err)}`, { cause: err });
        }
      }
      return seen;
    },

    async network(task) {
      const { namespace, name } = split(task);
      try {
        const pods = await (await api()).core.listNamespacedPod({
          namespace,
          labelSelector: `job-name=${name}`,
        });
        const pod = pods.items[0];
        const podIP = pod?.status?.podIP;
        // Not scheduled, or no IP yet: nothing settled to keep.
        if (!pod?.spec?.nodeName || !podIP) return undefined;
        const ports = (pod.spec?.containers ?? []).flatMap((c) =>
          (c.ports ?? []).map((p) => ({
            containerPort: p.containerPort,
            hostPort: p.containerPort,
            protocol: (p.protocol ?? "TCP").toLowerCase() as "tcp" | "udp" | "sctp",
          })),
        );
        return {
          host: pod.spec.nodeName,
          ipAddresses: [...new Set([podIP, pod.status?.hostIP].filter((ip): ip is string => !!ip))],
          endpoints: ports.map((p) => `${podIP}:${p.containerPort}/${p.protocol}`),
          ports,
        };
      } catch (err) {
        throw new TransientLaunchError(`Kubernetes: ${describe(err)}`, { cause: err });
      }
    },

    async stop(task, _reason, how) {
      const { namespace, name } = split(task);
      try {
        await (await api()).batch.deleteNamespacedJob({
          name,
          namespace,
          propagationPolicy: "Background",
          ...(how === "kill" ? { gracePeriodSeconds: 0 } : {}),
        });
      } catch (err) {
        if (status(err) === 404) return; // already gone
        throw new TransientLaunchError(`Kubernetes: ${describe(err)}`, { cause: err });
      }
    },
  };
}
