import { createHash } from "node:crypto";
import { type CloudWatchLogsClient, GetLogEventsCommand } from "@aws-sdk/client-cloudwatch-logs";
import {
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  type DescribeTasksCommandOutput,
  type ECSClient,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  type RunTaskCommandInput,
  StopTaskCommand,
} from "@aws-sdk/client-ecs";
import { launchToken, type TaskObservation, type TaskRef } from "../../domain/cloud-reservation.ts";
import { TokenBucket } from "../../domain/token-bucket.ts";
import {
  type LaunchRequest,
  type LaunchResult,
  type TaskLauncher,
  TransientLaunchError,
} from "../../ports/cloud.ts";
import { ecsTaskNetwork } from "./task-network.ts";
import { EcsTask, observeEcsTask } from "./task-status.ts";

/** Where and how jobs run on ECS: the cluster and base task definition the infra created. */
export interface EcsSettings {
  cluster: string;
  /** The base task definition (family, family:revision or ARN): roles, logging, the job container. */
  taskDefinition: string;
  /** The job's container in the task definition. */
  container: string;
  /**
   * Capacity provider per GPU family: the key is matched (case-insensitively) against the job's GPU type
   * ("L4" matches "l4" and "NVIDIA L4"); `default` takes jobs that name no type.
   */
  capacityProviders: Record<string, string>;
  /** awslogs group and stream prefix of the job container (for job output). */
  logGroup?: string;
  logStreamPrefix?: string;
  /** RunTask calls per second this process makes at most (ECS allows about 20/s per account and region). */
  runTaskPerSecond: number;
  runTaskBurst: number;
}

/** ECS's limit on the JSON of a RunTask's overrides. */
const MAX_OVERRIDES = 8192;
const DESCRIBE_BATCH = 100;

const errorName = (err: unknown) => (err as { name?: string }).name ?? "";
const httpStatus = (err: unknown) =>
  (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;

/** Throttling, server errors and network failures are worth retrying as they are; the rest is not. */
export function isTransient(err: unknown): boolean {
  const name = errorName(err);
  const status = httpStatus(err);
  if (
    /Throttl|TooManyRequests|ServerException|ServiceUnavailable|InternalFailure|RequestLimitExceeded/.test(
      name,
    )
  )
    return true;
  if (/rate exceeded|throttl/i.test((err as Error).message ?? "")) return true;
  if (status === undefined) return !(err instanceof TypeError) && !name.endsWith("Exception");
  return status === 429 || status >= 500;
}

/** A RunTask `failures[]` reason that means "no room now" rather than "never". */
const isCapacityFailure = (reason: string) => /^RESOURCE|^AGENT|capacity|insufficient/i.test(reason);

/**
 * Starts jobs as ECS tasks on EC2 GPU capacity (specs/cloud.md). Each launch is one RunTask with
 * `clientToken = <reservation>:<attempt>` (the same call again returns the same task), `startedBy` = the
 * reservation id (how events find their reservation), tags, the capacity provider of the job's GPU family,
 * and overrides for the command, environment, GPU count, CPU units and memory (the job's resource limits). A job with its own image gets a task
 * definition revision of its own (registered once per image, in a family derived from the base). A token
 * bucket keeps RunTask under ECS's rate.
 */
export function ecsLauncher(
  ecs: ECSClient,
  logs: CloudWatchLogsClient | undefined,
  settings: EcsSettings,
): TaskLauncher {
  const bucket = new TokenBucket(settings.runTaskPerSecond, settings.runTaskBurst);
  const definitions = new Map<string, Promise<string>>();
  const baseFamily = settings.taskDefinition.replace(/^arn:.*:task-definition\//, "").replace(/:\d+$/, "");

  const describe = async (taskDefinition: string) => {
    try {
      return (await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition }))).taskDefinition;
    } catch (err) {
      if (isTransient(err))
        throw new TransientLaunchError(`ECS DescribeTaskDefinition: ${(err as Error).message}`, {
          cause: err,
        });
      return undefined;
    }
  };

  /** The task definition for an image: the family's latest revision if it has that image, else a new one. */
  const definitionFor = (image: string): Promise<string> => {
    let known = definitions.get(image);
    if (!known) {
      known = (async () => {
        const family = `${baseFamily}-img-${createHash("sha256").update(image).digest("hex").slice(0, 16)}`;
        const existing = await describe(family);
        const mine = existing?.containerDefinitions?.find((c) => c.name === settings.container);
        if (existing?.taskDefinitionArn && mine?.image === image) return existing.taskDefinitionArn;
        const base = await describe(settings.taskDefinition);
        if (!base) throw new Error(`the base task definition ${settings.taskDefinition} does not exist`);
        const registered = await ecs.send(
          new RegisterTaskDefinitionCommand({
            family,
            taskRoleArn: base.taskRoleArn,
            executionRoleArn: base.executionRoleArn,
            networkMode: base.networkMode,
            requiresCompatibilities: base.requiresCompatibilities,
            cpu: base.cpu,
            memory: base.memory,
            volumes: base.volumes,
            placementConstraints: base.placementConstraints,
            containerDefinitions: (base.containerDefinitions ?? []).map((c) =>
              c.name === settings.container ? { ...c, image } : c,
            ),
            tags: [{ key: "berth:image", value: image.slice(0, 256) }],
          }),
        );
        return registered.taskDefinition!.taskDefinitionArn!;
      })();
      definitions.set(image, known);
      known.catch(() => definitions.delete(image));
    }
    return known;
  };

  const capacityProvider = (type: string | undefined): string | undefined => {
    if (!type) return settings.capacityProviders.default ?? Object.values(settings.capacityProviders)[0];
    const wanted = type.toLowerCase();
    const key = Object.keys(settings.capacityProviders).find(
      (k) => k !== "default" && (wanted === k.toLowerCase() || wanted.includes(k.toLowerCase())),
    );
    return key ? settings.capacityProviders[key] : undefined;
  };

  const runTaskInput = (
    req: LaunchRequest,
    taskDefinition: string,
    provider: string,
  ): RunTaskCommandInput => {
    const command =
      req.workingDirectory && req.command.length > 0
        ? ["/bin/sh", "-c", 'cd "$0" && exec "$@"', req.workingDirectory, ...req.command]
        : req.command;
    return {
      cluster: settings.cluster,
      taskDefinition,
      count: 1,
      clientToken: launchToken({ id: req.reservationId, attempt: req.attempt }),
      startedBy: req.reservationId,
      capacityProviderStrategy: [{ capacityProvider: provider, weight: 1 }],
      tags: [
        { key: "berth:reservation", value: req.reservationId },
        { key: "berth:workspace", value: req.workspaceId },
        { key: "berth:job", value: req.jobId },
      ],
      placementConstraints: req.constraints
        .filter((c) => c.name.startsWith("ecs.") && c.value !== undefined)
        .map((c) => ({ type: "memberOf", expression: `attribute:${c.name} == ${c.value}` })),
      overrides: {
        containerOverrides: [
          {
            name: settings.container,
            ...(command.length > 0 ? { command } : {}),
            environment: req.environment,
            ...(req.gpus.count > 0
              ? { resourceRequirements: [{ type: "GPU", value: String(req.gpus.count) }] }
              : {}),
            // CPU units (1024 a core) and a hard memory limit in MiB: the job's resource limits.
            ...(req.limits?.cpus ? { cpu: Math.max(1, Math.round(req.limits.cpus * 1024)) } : {}),
            ...(req.limits?.memoryMiB ? { memory: req.limits.memoryMiB } : {}),
          },
        ],
      },
    };
  };

  return {
    kind: "ecs",
    async launch(req): Promise<LaunchResult> {
      const provider = capacityProvider(req.gpus.type);
      if (!provider) {
        return {
          kind: "rejected",
          reason: `no GPU family for type ${req.gpus.type} (configured: ${Object.keys(settings.capacityProviders).join(", ")})`,
        };
      }
      let taskDefinition = settings.taskDefinition;
      if (req.image) {
        try {
          taskDefinition = await definitionFor(req.image);
        } catch (err) {
          if (err instanceof TransientLaunchError || isTransient(err))
            throw new TransientLaunchError((err as Error).message, { cause: err });
          return {
            kind: "rejected",
            reason: `could not register a task definition for ${req.image}: ${(err as Error).message}`,
          };
        }
      }
      const input = runTaskInput(req, taskDefinition, provider);
      if (JSON.stringify(input.overrides).length > MAX_OVERRIDES) {
        return {
          kind: "rejected",
          reason: "the job's command and environment exceed ECS's 8 KiB of task overrides",
        };
      }
      await bucket.take();
      try {
        const out = await ecs.send(new RunTaskCommand(input));
        const task = out.tasks?.[0];
        if (task?.taskArn) {
          const parsed = EcsTask.safeParse(task);
          return {
            kind: "launched",
            task: { launcher: "ecs", id: task.taskArn },
            ...(parsed.success ? { observation: observeEcsTask(parsed.data, settings.container) } : {}),
          };
        }
        const reasons = (out.failures ?? [])
          .map((f) => [f.reason, f.detail].filter(Boolean).join(": "))
          .join("; ");
        if ((out.failures ?? []).some((f) => isCapacityFailure(f.reason ?? "")))
          return { kind: "noCapacity", reason: reasons };
        return { kind: "rejected", reason: reasons || "RunTask started no task and gave no reason" };
      } catch (err) {
        // The same token with a different request (a new task definition revision since): the token's task.
        const existing = (err as { resourceIds?: string[] }).resourceIds?.[0];
        if (errorName(err) === "ConflictException" && existing)
          return { kind: "launched", task: { launcher: "ecs", id: existing } };
        if (isTransient(err))
          throw new TransientLaunchError(`ECS RunTask: ${(err as Error).message}`, { cause: err });
        return {
          kind: "rejected",
          reason: `ECS RunTask: ${errorName(err) || "error"}: ${(err as Error).message}`,
        };
      }
    },

    async observe(tasks) {
      const seen = new Map<string, TaskObservation>();
      for (let i = 0; i < tasks.length; i += DESCRIBE_BATCH) {
        const batch = tasks.slice(i, i + DESCRIBE_BATCH).map((t) => t.id);
        let out: DescribeTasksCommandOutput;
        try {
          out = await ecs.send(new DescribeTasksCommand({ cluster: settings.cluster, tasks: batch }));
        } catch (err) {
          throw new TransientLaunchError(`ECS DescribeTasks: ${(err as Error).message}`, { cause: err });
        }
        for (const t of out.tasks ?? []) {
          const parsed = EcsTask.safeParse(t);
          if (parsed.success) seen.set(parsed.data.taskArn, observeEcsTask(parsed.data, settings.container));
        }
        for (const f of out.failures ?? []) {
          if (f.arn && f.reason === "MISSING")
            seen.set(f.arn, { phase: "stopped", lastStatus: "MISSING", missing: true });
        }
      }
      return seen;
    },

    network: (task: TaskRef) => ecsTaskNetwork(ecs, settings, task),

    async stop(task: TaskRef, reason: string) {
      try {
        await ecs.send(
          new StopTaskCommand({ cluster: settings.cluster, task: task.id, reason: reason.slice(0, 255) }),
        );
      } catch (err) {
        if (isTransient(err))
          throw new TransientLaunchError(`ECS StopTask: ${(err as Error).message}`, { cause: err });
        // Already stopped, or gone: nothing to stop.
        if (/not found|stopped|InvalidParameter/i.test(`${errorName(err)} ${(err as Error).message}`)) return;
        throw err;
      }
    },

    ...(logs && settings.logGroup
      ? {
          async output(task: TaskRef, cursor?: string) {
            const taskId = task.id.split("/").at(-1)!;
            try {
              const out = await logs.send(
                new GetLogEventsCommand({
                  logGroupName: settings.logGroup,
                  logStreamName: `${settings.logStreamPrefix ?? "berth"}/${settings.container}/${taskId}`,
                  startFromHead: true,
                  ...(cursor ? { nextToken: cursor } : {}),
                }),
              );
              return {
                lines: (out.events ?? []).map((e) => e.message ?? ""),
                cursor: out.nextForwardToken ?? cursor,
              };
            } catch (err) {
              // No stream yet: the container has not written anything.
              if (errorName(err) === "ResourceNotFoundException") return { lines: [], cursor };
              throw err;
            }
          },
        }
      : {}),
  };
}
