import { RunTaskCommand } from "@aws-sdk/client-ecs";
import { afterEach, describe, expect, it } from "vitest";
import { containerNetwork } from "../../agent/runtimes/network.ts";
import { errorOf, type TestApp, testApp } from "../helpers/app.ts";
import { type CloudHarness, cloudHarness } from "../helpers/cloud.ts";
import { type GpuAgent, gpuAgent, start, submit } from "../helpers/jobs.ts";

const network = (t: TestApp, id: string, token = t.admin) =>
  t.call("GET", `/api/v1/jobs/${id}/network`, { token });
const status = (t: TestApp, agent: GpuAgent, id: string, body: unknown) =>
  t.call("POST", `/api/v1/agent/reservations/${id}/status`, { token: agent.session, body });

describe("containerNetwork", () => {
  it("reads docker inspect's IPs and published ports, each port once (0.0.0.0 and :: bindings alike)", () => {
    expect(
      containerNetwork({
        IPAddress: "172.17.0.2",
        Ports: {
          "8888/tcp": [
            { HostIp: "0.0.0.0", HostPort: "49153" },
            { HostIp: "::", HostPort: "49153" },
          ],
          "6006/udp": [{ HostIp: "0.0.0.0", HostPort: "6006" }],
          "9000/tcp": null,
        },
        Networks: { bridge: { IPAddress: "172.17.0.2", GlobalIPv6Address: "" } },
      }),
    ).toEqual({
      containerIPs: ["172.17.0.2"],
      ports: [
        { containerPort: 6006, hostPort: 6006, protocol: "udp" },
        { containerPort: 8888, hostPort: 49153, protocol: "tcp" },
      ],
    });
  });
});

describe("GET /api/v1/jobs/{id}/network", () => {
  const where = { privateIP: "10.0.0.5", publicIP: "203.0.113.7" };

  it("answers a process job with its device's hostname and addresses, no endpoints", async () => {
    const t = await testApp();
    const agent = await gpuAgent(t, 1, { network: where });
    const { body } = await submit(t, {});
    await start(agent, body.id);
    const res = await network(t, body.id);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      host: expect.stringMatching(/^host-/),
      ipAddresses: ["10.0.0.5", "203.0.113.7"],
      berth: { target: "fleet", partial: false },
    });
  });

  it("answers a container job with its bridge IP and an endpoint per published port, from the agent's report", async () => {
    const t = await testApp();
    const agent = await gpuAgent(t, 1, { network: where });
    const { body } = await submit(t, { container: { image: "busybox" }, exposedPorts: ["8888/tcp"] });
    const [r] = await agent.take();
    const report = {
      containerIPs: ["172.17.0.2"],
      ports: [{ containerPort: 8888, hostPort: 49153, protocol: "tcp" }],
    };
    expect((await status(t, agent, r!.id, { state: "running", network: report })).status).toBe(200);
    expect(await (await network(t, body.id)).json()).toEqual({
      host: expect.any(String),
      ipAddresses: ["10.0.0.5", "203.0.113.7", "172.17.0.2"],
      endpoints: ["10.0.0.5:49153/tcp"],
      berth: { target: "fleet", partial: false, ports: report.ports },
    });
    // A restarted agent reports a new host port: it replaces the old one; the same report again changes nothing.
    const moved = { ...report, ports: [{ containerPort: 8888, hostPort: 49200, protocol: "tcp" }] };
    await status(t, agent, r!.id, { state: "running", network: moved });
    const stored = await t.deps.repos.reservations.get(agent.deviceId, r!.id);
    await status(t, agent, r!.id, { state: "running", network: moved });
    expect((await t.deps.repos.reservations.get(agent.deviceId, r!.id))!.version).toBe(stored!.version);
    expect(((await (await network(t, body.id)).json()) as { endpoints: string[] }).endpoints).toEqual([
      "10.0.0.5:49200/tcp",
    ]);
  });

  it("says partial when a container's agent reported no network", async () => {
    const t = await testApp();
    const agent = await gpuAgent(t, 1);
    const { body } = await submit(t, { container: { image: "busybox" } });
    await start(agent, body.id);
    const answer = (await (await network(t, body.id)).json()) as Record<string, unknown>;
    expect(answer).toMatchObject({
      berth: { partial: true, missing: expect.stringContaining("not reported") },
    });
    expect(answer).not.toHaveProperty("endpoints");
  });

  it("is 409 JobNotRunning while Pending and once final; 404 for unknown, other workspaces' and other users' jobs", async () => {
    const t = await testApp();
    const agent = await gpuAgent(t, 1);
    const { body } = await submit(t, {});
    expect(await errorOf(await network(t, body.id))).toMatchObject({
      status: 409,
      code: "JobNotRunning",
      message: "The job is not currently running",
    });
    const r = await start(agent, body.id);
    expect((await network(t, body.id)).status).toBe(200);
    expect((await network(t, body.id, await t.key("member"))).status).toBe(404);
    expect((await network(t, body.id, await t.workspace("other"))).status).toBe(404);
    expect(await errorOf(await network(t, "01nosuchjob00000000000000"))).toMatchObject({
      status: 404,
      code: "JobNotFound",
    });
    await agent.result(r, "ok", { exitCode: 0 });
    expect((await errorOf(await network(t, body.id))).code).toBe("JobNotRunning");
  });
});

describe("cloud jobs: limits and network", () => {
  let h: CloudHarness;
  afterEach(async () => {
    await h?.close();
  });

  it("launches an ECS task with the job's CPU and memory limits, and refuses memorySwap on the cloud", async () => {
    h = await cloudHarness();
    const { status: code } = await submit(h.t, {
      target: "cloud",
      resourceLimits: [
        { type: "cpuCount", value: "2" },
        { type: "memory", value: "4096" },
      ],
    });
    expect(code).toBe(201);
    await h.drain();
    const input = h.fake.ecs.commandCalls(RunTaskCommand)[0]!.args[0].input;
    expect(input.overrides!.containerOverrides![0]).toMatchObject({ cpu: 2048, memory: 4096 });
    const swap = await submit(h.t, {
      target: "cloud",
      resourceLimits: [
        { type: "memory", value: "4096" },
        { type: "memorySwap", value: "1024" },
      ],
    });
    expect(swap.status).toBe(400);
    expect(swap.body.error?.message).toContain("memorySwap limits are not available on cloud capacity");
  });

  it("answers a running ECS job with its EC2 instance and port bindings, partial, resolved once", async () => {
    h = await cloudHarness();
    const { body } = await submit(h.t, { target: "cloud" });
    await h.drain();
    const arn = [...h.fake.tasks.keys()].at(-1)!;
    expect((await network(h.t, body.id)).status).toBe(409);
    h.fake.setTask(arn, {
      lastStatus: "RUNNING",
      containerInstanceArn: "arn:aws:ecs:us-east-1:123456789012:container-instance/berth-gpu/abc123",
      containers: [
        {
          name: "job",
          lastStatus: "RUNNING",
          networkBindings: [{ containerPort: 80, hostPort: 32768, protocol: "tcp" }],
        },
      ],
    });
    await h.events(h.fake.event(arn));
    const answer = await (await network(h.t, body.id)).json();
    expect(answer).toEqual({
      host: "i-abc123",
      ipAddresses: [],
      berth: {
        target: "ecs",
        partial: true,
        missing: expect.stringContaining("ec2:DescribeInstances"),
        ports: [{ containerPort: 80, hostPort: 32768, protocol: "tcp" }],
      },
    });
    const calls = h.fake.ecs.calls().length;
    expect(await (await network(h.t, body.id)).json()).toEqual(answer);
    expect(h.fake.ecs.calls().length).toBe(calls);
  });
});
