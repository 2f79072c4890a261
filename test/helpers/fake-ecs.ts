import { CloudWatchLogsClient, GetLogEventsCommand } from "@aws-sdk/client-cloudwatch-logs";
import {
  ConflictException,
  DescribeContainerInstancesCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ECSClient,
  ECSServiceException,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  type RunTaskCommandInput,
  StopTaskCommand,
  type Task,
} from "@aws-sdk/client-ecs";
import { mockClient } from "aws-sdk-client-mock";

/**
 * ECS (and CloudWatch Logs) faked at the SDK boundary with aws-sdk-client-mock, behaving as the real
 * services do where Berth depends on it: RunTask is idempotent per clientToken (the same request returns the
 * same task; another request with the token is a ConflictException naming the task), answers `failures[]`
 * when there is no capacity, can be throttled; DescribeTasks answers MISSING for unknown tasks; StopTask
 * marks the task stopping. Tasks are created PROVISIONING; tests move them with `setTask` or `event`.
 */
export function fakeEcs(opts: { latencyMs?: number; rate?: { perSecond: number; burst: number } } = {}) {
  const ecs = mockClient(ECSClient);
  const logs = mockClient(CloudWatchLogsClient);
  const tasks = new Map<string, Task>();
  const byToken = new Map<string, { request: string; arn: string }>();
  const definitions = new Map<string, { arn: string; image: string; revision: number }>();
  const logLines = new Map<string, string[]>();
  const state = {
    runTaskCalls: 0,
    /** RunTask answers `failures[]` (no GPU capacity) this many more times. */
    noCapacity: 0,
    /** RunTask is throttled this many more times. */
    throttle: 0,
    /** A permanent RunTask error, when set. */
    reject: undefined as string | undefined,
    stopCalls: [] as { task: string; reason?: string }[],
    /** Runs inside each RunTask call, before it answers (to act while a launch is under way). */
    duringRunTask: undefined as (() => Promise<void>) | undefined,
    registered: 0,
    /** RunTask calls refused for going over `rate`. */
    throttled: 0,
  };
  // ECS's RunTask rate limit (about 20 calls a second per account and region, bursts of 100).
  let tokens = opts.rate?.burst ?? 0;
  let refilled = performance.now();
  const overRate = () => {
    if (!opts.rate) return false;
    const now = performance.now();
    tokens = Math.min(opts.rate.burst, tokens + ((now - refilled) / 1000) * opts.rate.perSecond);
    refilled = now;
    if (tokens < 1) return true;
    tokens -= 1;
    return false;
  };
  const sleep = () =>
    opts.latencyMs ? new Promise((r) => setTimeout(r, opts.latencyMs)) : Promise.resolve();
  let seq = 0;

  ecs.on(RunTaskCommand).callsFake(async (input: RunTaskCommandInput) => {
    state.runTaskCalls++;
    await sleep();
    await state.duringRunTask?.();
    if (state.throttle > 0 || overRate()) {
      if (state.throttle > 0) state.throttle--;
      else state.throttled++;
      throw new ECSServiceException({
        name: "ThrottlingException",
        $fault: "client",
        message: "Rate exceeded",
        $metadata: { httpStatusCode: 400 },
      });
    }
    if (state.reject) {
      throw new ECSServiceException({
        name: "InvalidParameterException",
        $fault: "client",
        message: state.reject,
        $metadata: { httpStatusCode: 400 },
      });
    }
    const request = JSON.stringify({ ...input, clientToken: undefined });
    const known = input.clientToken ? byToken.get(input.clientToken) : undefined;
    if (known) {
      if (known.request !== request) {
        throw new ConflictException({
          message: "The clientToken is already in use with a different request",
          $metadata: { httpStatusCode: 400 },
          resourceIds: [known.arn],
        });
      }
      return { tasks: [tasks.get(known.arn)!], failures: [] };
    }
    if (state.noCapacity > 0) {
      state.noCapacity--;
      return {
        tasks: [],
        failures: [{ reason: "RESOURCE:GPU", detail: "no container instance has a free GPU" }],
      };
    }
    const arn = `arn:aws:ecs:us-east-1:123456789012:task/berth-gpu/${(++seq).toString(16).padStart(32, "0")}`;
    const task: Task = {
      taskArn: arn,
      lastStatus: "PROVISIONING",
      desiredStatus: "RUNNING",
      startedBy: input.startedBy,
      version: 1,
      containers: [{ name: "job", lastStatus: "PENDING" }],
      overrides: input.overrides,
      tags: input.tags,
      taskDefinitionArn: input.taskDefinition,
    };
    tasks.set(arn, task);
    if (input.clientToken) byToken.set(input.clientToken, { request, arn });
    return { tasks: [task], failures: [] };
  });

  ecs.on(DescribeTasksCommand).callsFake(async (input: { tasks?: string[] }) => ({
    tasks: (input.tasks ?? []).flatMap((arn) => (tasks.has(arn) ? [tasks.get(arn)!] : [])),
    failures: (input.tasks ?? []).filter((arn) => !tasks.has(arn)).map((arn) => ({ arn, reason: "MISSING" })),
  }));

  // A container instance's EC2 instance: `i-` and the last part of its ARN.
  ecs.on(DescribeContainerInstancesCommand).callsFake(async (input: { containerInstances?: string[] }) => ({
    containerInstances: (input.containerInstances ?? []).map((arn) => ({
      containerInstanceArn: arn,
      ec2InstanceId: `i-${arn.split("/").at(-1)}`,
    })),
    failures: [],
  }));

  ecs.on(StopTaskCommand).callsFake(async (input: { task: string; reason?: string }) => {
    state.stopCalls.push({ task: input.task, reason: input.reason });
    const task = tasks.get(input.task);
    if (task) task.desiredStatus = "STOPPED";
    return { task };
  });

  ecs.on(DescribeTaskDefinitionCommand).callsFake(async (input: { taskDefinition: string }) => {
    const family = input.taskDefinition.replace(/:\d+$/, "");
    const known = definitions.get(family);
    if (known) {
      return {
        taskDefinition: {
          taskDefinitionArn: known.arn,
          family,
          revision: known.revision,
          containerDefinitions: [{ name: "job", image: known.image }],
        },
      };
    }
    if (family.endsWith("-job")) {
      return {
        taskDefinition: {
          taskDefinitionArn: `arn:aws:ecs:us-east-1:123456789012:task-definition/${family}:1`,
          family,
          revision: 1,
          taskRoleArn: "arn:aws:iam::123456789012:role/job",
          executionRoleArn: "arn:aws:iam::123456789012:role/exec",
          networkMode: "bridge",
          containerDefinitions: [{ name: "job", image: "ubuntu:24.04" }],
        },
      };
    }
    throw new ECSServiceException({
      name: "ClientException",
      $fault: "client",
      message: "Unable to describe task definition.",
      $metadata: { httpStatusCode: 400 },
    });
  });

  ecs
    .on(RegisterTaskDefinitionCommand)
    .callsFake(
      async (input: { family: string; containerDefinitions: { name?: string; image?: string }[] }) => {
        state.registered++;
        const revision = (definitions.get(input.family)?.revision ?? 0) + 1;
        const arn = `arn:aws:ecs:us-east-1:123456789012:task-definition/${input.family}:${revision}`;
        const image = input.containerDefinitions.find((c) => c.name === "job")?.image ?? "";
        definitions.set(input.family, { arn, image, revision });
        return { taskDefinition: { taskDefinitionArn: arn, family: input.family, revision } };
      },
    );

  logs.on(GetLogEventsCommand).callsFake(async (input: { logStreamName: string; nextToken?: string }) => {
    const lines = logLines.get(input.logStreamName);
    if (!lines) {
      const err = new Error("The specified log stream does not exist.");
      err.name = "ResourceNotFoundException";
      throw err;
    }
    if (input.nextToken !== undefined && !/^f\/\d+$/.test(input.nextToken)) {
      // As CloudWatch answers a token it did not give out.
      const err = new Error("The specified nextToken is invalid.");
      err.name = "InvalidParameterException";
      throw err;
    }
    const from = input.nextToken ? Number(input.nextToken.slice(2)) : 0;
    const page = lines.slice(from, from + 2); // small pages, to exercise paging
    return {
      events: page.map((message, i) => ({ message, timestamp: from + i })),
      nextForwardToken: `f/${from + page.length}`,
    };
  });

  /** The ECS "Task State Change" event of a task's current state, as EventBridge delivers it. */
  const event = (arn: string) => {
    const t = tasks.get(arn)!;
    return JSON.stringify({
      version: "0",
      id: `evt-${t.version}`,
      "detail-type": "ECS Task State Change",
      source: "aws.ecs",
      account: "123456789012",
      time: new Date().toISOString(),
      region: "us-east-1",
      resources: [arn],
      detail: {
        ...t,
        startedAt: t.startedAt?.toISOString(),
        updatedAt: new Date().toISOString(),
        clusterArn: "arn:aws:ecs:us-east-1:123456789012:cluster/berth-gpu",
      },
    });
  };

  return {
    ecs,
    logs,
    tasks,
    state,
    event,
    /** Moves a task on (bumping its version, as ECS does with every change). */
    setTask(arn: string, change: Partial<Task> & { exitCode?: number }) {
      const t = tasks.get(arn)!;
      const { exitCode, ...rest } = change;
      Object.assign(t, rest, { version: (t.version ?? 0) + 1 });
      if (rest.lastStatus === "RUNNING" && !t.startedAt) t.startedAt = new Date();
      if (exitCode !== undefined) t.containers = [{ name: "job", lastStatus: "STOPPED", exitCode }];
      return t;
    },
    /** The job container's log lines of a task (CloudWatch stream berth/job/<task id>). */
    log(arn: string, lines: string[]) {
      logLines.set(`berth/job/${arn.split("/").at(-1)}`, lines);
    },
    /** Distinct tasks started per reservation (startedBy). */
    tasksPerReservation() {
      const count = new Map<string, number>();
      for (const t of tasks.values()) count.set(t.startedBy!, (count.get(t.startedBy!) ?? 0) + 1);
      return count;
    },
    restore() {
      ecs.restore();
      logs.restore();
    },
  };
}
export type FakeEcs = ReturnType<typeof fakeEcs>;
