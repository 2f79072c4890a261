import { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import { ECSClient, RegisterTaskDefinitionCommand, RunTaskCommand } from "@aws-sdk/client-ecs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ecsLauncher, isTransient } from "../../shared/adapters/ecs/ecs-launcher.ts";
import { type LaunchRequest, TransientLaunchError } from "../../shared/ports/cloud.ts";
import { aLaunchRequest } from "../helpers/cloud.ts";
import { type FakeEcs, fakeEcs } from "../helpers/fake-ecs.ts";

const settings = {
  cluster: "arn:aws:ecs:us-east-1:123456789012:cluster/berth-gpu",
  taskDefinition: "berth-dev-job",
  container: "job",
  capacityProviders: { default: "berth-dev-l4", L4: "berth-dev-l4", A10G: "berth-dev-a10g" },
  logGroup: "/berth/dev/jobs",
  logStreamPrefix: "berth",
  runTaskPerSecond: 1000,
  runTaskBurst: 1000,
};
const request = (over: Partial<LaunchRequest> = {}) =>
  aLaunchRequest({
    constraints: [
      { name: "ecs.instance-type", value: "g5.12xlarge" },
      { name: "rack", value: "r1" },
    ],
    ...over,
  });

describe("ecsLauncher", () => {
  let fake: FakeEcs;
  const launcher = () =>
    ecsLauncher(
      new ECSClient({ region: "us-east-1" }),
      new CloudWatchLogsClient({ region: "us-east-1" }),
      settings,
    );
  beforeEach(() => {
    fake = fakeEcs();
  });
  afterEach(() => fake.restore());

  it("runs one task with the reservation's token, startedBy, tags, GPU family, overrides and constraints", async () => {
    const result = await launcher().launch(request());
    expect(result).toMatchObject({
      kind: "launched",
      task: { launcher: "ecs" },
      observation: { phase: "pending" },
    });
    const [call] = fake.ecs.commandCalls(RunTaskCommand);
    expect(call!.args[0].input).toEqual({
      cluster: settings.cluster,
      taskDefinition: "berth-dev-job",
      count: 1,
      clientToken: "01m81tsa93f8ffyw297gqps1j1:1",
      startedBy: "01m81tsa93f8ffyw297gqps1j1",
      capacityProviderStrategy: [{ capacityProvider: "berth-dev-a10g", weight: 1 }],
      tags: [
        { key: "berth:reservation", value: "01m81tsa93f8ffyw297gqps1j1" },
        { key: "berth:workspace", value: "default" },
        { key: "berth:job", value: "01m81tsa93f8ffyw297gqps1j2" },
      ],
      placementConstraints: [{ type: "memberOf", expression: "attribute:ecs.instance-type == g5.12xlarge" }],
      overrides: {
        containerOverrides: [
          {
            name: "job",
            command: ["python", "train.py"],
            environment: [{ name: "EPOCHS", value: "3" }],
            resourceRequirements: [{ type: "GPU", value: "2" }],
          },
        ],
      },
    });
  });

  it("picks the GPU family by type (any case, substring), the default without one, and refuses an unknown one", async () => {
    const providerOf = async (type?: string) => {
      const before = fake.ecs.commandCalls(RunTaskCommand).length;
      const r = await launcher().launch(request({ reservationId: `r${before}`, gpus: { count: 1, type } }));
      const call = fake.ecs.commandCalls(RunTaskCommand)[before];
      return r.kind === "rejected"
        ? r.reason
        : call!.args[0].input.capacityProviderStrategy![0]!.capacityProvider;
    };
    expect(await providerOf("nvidia l4")).toBe("berth-dev-l4");
    expect(await providerOf(undefined)).toBe("berth-dev-l4");
    expect(await providerOf("H100")).toMatch(/no GPU family for type H100 \(configured: default, L4, A10G\)/);
  });

  it("runs a command in its working directory through a shell (ECS overrides cannot set it)", async () => {
    await launcher().launch(request({ workingDirectory: "/work" }));
    const input = fake.ecs.commandCalls(RunTaskCommand)[0]!.args[0].input;
    expect(input.overrides!.containerOverrides![0]!.command).toEqual([
      "/bin/sh",
      "-c",
      'cd "$0" && exec "$@"',
      "/work",
      "python",
      "train.py",
    ]);
  });

  it("gives the container its resource limits: CPU units (1024 a core) and memory in MiB", async () => {
    await launcher().launch(request({ limits: { cpus: 1.5, memoryMiB: 2048 } }));
    const input = fake.ecs.commandCalls(RunTaskCommand)[0]!.args[0].input;
    expect(input.overrides!.containerOverrides![0]).toMatchObject({ name: "job", cpu: 1536, memory: 2048 });
  });

  it("is idempotent: the same token again finds the same task", async () => {
    const a = await launcher().launch(request());
    const b = await launcher().launch(request());
    expect(a.kind === "launched" && b.kind === "launched" && a.task.id === b.task.id).toBe(true);
    expect(fake.tasks.size).toBe(1);
  });

  it("takes the task a ConflictException names (the same token with another request) as its own", async () => {
    const a = await launcher().launch(request());
    const b = await launcher().launch(request({ environment: [{ name: "CHANGED", value: "1" }] }));
    expect(b).toEqual({
      kind: "launched",
      task: { launcher: "ecs", id: a.kind === "launched" ? a.task.id : "" },
    });
    expect(fake.tasks.size).toBe(1);
  });

  it("reads failures[] for GPU capacity as no capacity, other failures as rejections", async () => {
    fake.state.noCapacity = 1;
    expect(await launcher().launch(request())).toEqual({
      kind: "noCapacity",
      reason: "RESOURCE:GPU: no container instance has a free GPU",
    });
    fake.state.reject = "Task definition does not exist";
    expect(await launcher().launch(request({ attempt: 2 }))).toMatchObject({
      kind: "rejected",
      reason: expect.stringContaining("Task definition does not exist"),
    });
  });

  it("throws TransientLaunchError when throttled, so the message is retried", async () => {
    fake.state.throttle = 1;
    await expect(launcher().launch(request())).rejects.toBeInstanceOf(TransientLaunchError);
    expect((await launcher().launch(request())).kind).toBe("launched");
  });

  it("registers a task definition revision once per image, from the base definition", async () => {
    const l = launcher();
    await l.launch(request({ image: "nvcr.io/nvidia/pytorch:24.05-py3" }));
    await l.launch(request({ reservationId: "other", image: "nvcr.io/nvidia/pytorch:24.05-py3" }));
    expect(fake.state.registered).toBe(1);
    const registered = fake.ecs.commandCalls(RegisterTaskDefinitionCommand)[0]!.args[0].input;
    expect(registered.family).toMatch(/^berth-dev-job-img-[0-9a-f]{16}$/);
    expect(registered.containerDefinitions![0]!.image).toBe("nvcr.io/nvidia/pytorch:24.05-py3");
    expect(registered.taskRoleArn).toBe("arn:aws:iam::123456789012:role/job");
    const runs = fake.ecs.commandCalls(RunTaskCommand).map((c) => c.args[0].input.taskDefinition);
    expect(runs[0]).toMatch(/task-definition\/berth-dev-job-img-[0-9a-f]{16}:1$/);
    // Another process (a fresh launcher) finds the family's revision instead of registering again.
    await launcher().launch(request({ reservationId: "third", image: "nvcr.io/nvidia/pytorch:24.05-py3" }));
    expect(fake.state.registered).toBe(1);
  });

  it("refuses overrides over ECS's 8 KiB", async () => {
    const big = [{ name: "BLOB", value: "x".repeat(9000) }];
    expect(await launcher().launch(request({ environment: big }))).toMatchObject({
      kind: "rejected",
      reason: expect.stringContaining("8 KiB"),
    });
    expect(fake.state.runTaskCalls).toBe(0);
  });

  it("observes tasks, reporting MISSING ones as missing", async () => {
    const r = await launcher().launch(request());
    const arn = r.kind === "launched" ? r.task.id : "";
    fake.setTask(arn, { lastStatus: "RUNNING" });
    const seen = await launcher().observe([
      { launcher: "ecs", id: arn },
      { launcher: "ecs", id: "arn:aws:ecs:us-east-1:123456789012:task/berth-gpu/gone" },
    ]);
    expect(seen.get(arn)).toMatchObject({ phase: "running", version: 2 });
    expect(seen.get("arn:aws:ecs:us-east-1:123456789012:task/berth-gpu/gone")).toMatchObject({
      missing: true,
    });
  });

  it("stops a task with its reason, and reads its output from CloudWatch Logs page by page", async () => {
    const r = await launcher().launch(request());
    const task = r.kind === "launched" ? r.task : { launcher: "ecs" as const, id: "" };
    await launcher().stop(task, "stop requested by admin", "stop");
    expect(fake.state.stopCalls).toEqual([{ task: task.id, reason: "stop requested by admin" }]);
    const l = launcher();
    expect(await l.output!(task)).toEqual({ lines: [], cursor: undefined });
    fake.log(task.id, ["one", "two", "three"]);
    const first = await l.output!(task);
    expect(first.lines).toEqual(["one", "two"]);
    expect((await l.output!(task, first.cursor)).lines).toEqual(["three"]);
  });
});

describe("isTransient", () => {
  it("retries throttling, server errors and network failures; not client errors", () => {
    const err = (name: string, status?: number, message = "x") =>
      Object.assign(new Error(message), {
        name,
        ...(status ? { $metadata: { httpStatusCode: status } } : {}),
      });
    expect(isTransient(err("ThrottlingException", 400))).toBe(true);
    expect(isTransient(err("ClientException", 400, "Rate exceeded"))).toBe(true);
    expect(isTransient(err("ServerException", 500))).toBe(true);
    expect(isTransient(err("Error"))).toBe(true); // ECONNRESET and the like: no HTTP answer at all
    expect(isTransient(err("InvalidParameterException", 400))).toBe(false);
    expect(isTransient(err("AccessDeniedException", 400))).toBe(false);
  });
});
