import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eksLauncher } from "../../shared/adapters/eks/eks-launcher.ts";
import { eksToken } from "../../shared/adapters/eks/token.ts";
import { type LaunchRequest, TransientLaunchError } from "../../shared/ports/cloud.ts";
import { aLaunchRequest } from "../helpers/cloud.ts";
import { type FakeKubernetes, fakeKubernetes } from "../helpers/fake-kubernetes.ts";

const credentials = {
  accessKeyId: "AKIDEXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
};

describe("eksToken", () => {
  it("is a presigned STS GetCallerIdentity URL, signed with the cluster header, base64url, k8s-aws-v1.", async () => {
    const token = await eksToken({
      cluster: "berth-gpu",
      region: "us-west-2",
      credentials,
      signingDate: new Date("2026-11-22T12:00:00Z"),
    });
    expect(token).toMatch(/^k8s-aws-v1\.[A-Za-z0-9_-]+$/); // base64url, no padding
    const url = new URL(Buffer.from(token.slice("k8s-aws-v1.".length), "base64url").toString());
    expect(url.origin).toBe("https://sts.us-west-2.amazonaws.com");
    const q = url.searchParams;
    expect(q.get("Action")).toBe("GetCallerIdentity");
    expect(q.get("Version")).toBe("2011-06-15");
    expect(q.get("X-Amz-Algorithm")).toBe("AWS4-HMAC-SHA256");
    expect(q.get("X-Amz-Credential")).toBe("AKIDEXAMPLE/20261122/us-west-2/sts/aws4_request");
    expect(q.get("X-Amz-Date")).toBe("20261122T120000Z");
    expect(q.get("X-Amz-Expires")).toBe("60");
    expect(q.get("X-Amz-SignedHeaders")).toBe("host;x-k8s-aws-id");
    expect(q.get("X-Amz-Signature")).toMatch(/^[0-9a-f]{64}$/);
    // The signature covers the cluster name: another cluster, another signature.
    const other = await eksToken({
      cluster: "someone-else",
      region: "us-west-2",
      credentials,
      signingDate: new Date("2026-11-22T12:00:00Z"),
    });
    const sig = (t: string) =>
      new URL(Buffer.from(t.slice(11), "base64url").toString()).searchParams.get("X-Amz-Signature");
    expect(sig(other)).not.toBe(q.get("X-Amz-Signature"));
  });
});

describe("eksLauncher", () => {
  let k8s: FakeKubernetes;
  let tokens = 0;
  const settings = () => ({
    cluster: "berth-gpu",
    endpoint: k8s.url,
    caData: k8s.caData,
    namespace: "berth",
    defaultImage: "nvidia/cuda:12.4.1-base-ubuntu22.04",
    nodeSelectors: {
      default: { "node.kubernetes.io/instance-type": "g6.xlarge" },
      A10G: { "node.kubernetes.io/instance-type": "g5.xlarge" },
    },
    tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }],
    ttlSecondsAfterFinished: 3600,
  });
  const launcher = () =>
    eksLauncher(settings(), async () => {
      tokens++;
      return "k8s-aws-v1.test-token";
    });
  const request = (over: Partial<LaunchRequest> = {}) =>
    aLaunchRequest({ workingDirectory: "/work", ...over });

  beforeAll(async () => {
    k8s = await fakeKubernetes();
  });
  afterAll(() => k8s.close());

  it("creates a batch/v1 Job with a deterministic name, no retries, a deadline, GPUs and GPU nodes", async () => {
    const l = launcher();
    expect(await l.launch(request())).toEqual({
      kind: "launched",
      task: { launcher: "eks", id: "berth/res-01m81tsa93f8ffyw297gqps1j1-1" },
    });
    const create = k8s.requests.find((r) => r.method === "POST")!;
    expect(create.path).toBe("/apis/batch/v1/namespaces/berth/jobs");
    expect(create.authorization).toBe("Bearer k8s-aws-v1.test-token");
    expect(create.body).toMatchObject({
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: {
        name: "res-01m81tsa93f8ffyw297gqps1j1-1",
        labels: {
          "berth.dev/reservation": "01m81tsa93f8ffyw297gqps1j1",
          "berth.dev/job": "01m81tsa93f8ffyw297gqps1j2",
        },
      },
      spec: {
        backoffLimit: 0,
        activeDeadlineSeconds: 3600,
        ttlSecondsAfterFinished: 3600,
        template: {
          spec: {
            restartPolicy: "Never",
            nodeSelector: { "node.kubernetes.io/instance-type": "g5.xlarge" },
            tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }],
            containers: [
              {
                name: "job",
                image: "nvidia/cuda:12.4.1-base-ubuntu22.04",
                command: ["python", "train.py"],
                env: [{ name: "EPOCHS", value: "3" }],
                workingDir: "/work",
                resources: { limits: { "nvidia.com/gpu": "2" } },
              },
            ],
          },
        },
      },
    });
  });

  it("takes 409 AlreadyExists as success (a retried launch): still one Job", async () => {
    const l = launcher();
    expect((await l.launch(request())).kind).toBe("launched");
    expect(k8s.jobs.size).toBe(1);
    expect(k8s.requests.filter((r) => r.method === "POST").map((r) => r.path)).toHaveLength(2);
  });

  it("retries server errors, refuses what the API rejects, and refuses an unknown GPU family", async () => {
    k8s.failNext(503);
    await expect(launcher().launch(request({ attempt: 2 }))).rejects.toBeInstanceOf(TransientLaunchError);
    expect(await launcher().launch(request({ attempt: 3, gpus: { count: 1, type: "H100" } }))).toMatchObject({
      kind: "rejected",
      reason: expect.stringContaining("no GPU family for type H100"),
    });
  });

  it("follows the Job: pending, running, then the container's exit code; gone is missing", async () => {
    const l = launcher();
    const task = { launcher: "eks" as const, id: "berth/res-01m81tsa93f8ffyw297gqps1j1-1" };
    expect((await l.observe([task])).get(task.id)).toMatchObject({
      phase: "pending",
      lastStatus: "waiting for a pod",
    });
    k8s.setPod(
      "berth",
      "res-01m81tsa93f8ffyw297gqps1j1-1",
      { waiting: { reason: "ImagePullBackOff" } },
      "Pending",
    );
    expect((await l.observe([task])).get(task.id)).toMatchObject({
      phase: "pending",
      lastStatus: "ImagePullBackOff",
    });
    k8s.setPod("berth", "res-01m81tsa93f8ffyw297gqps1j1-1", {
      running: { startedAt: "2026-11-22T12:00:00Z" },
    });
    expect((await l.observe([task])).get(task.id)).toMatchObject({
      phase: "running",
      startedAt: "2026-11-22T12:00:00.000Z",
    });
    k8s.setPod("berth", "res-01m81tsa93f8ffyw297gqps1j1-1", {
      terminated: { exitCode: 3, reason: "Error", startedAt: "2026-11-22T12:00:00Z" },
    });
    k8s.setJob("berth", "res-01m81tsa93f8ffyw297gqps1j1-1", {
      conditions: [
        {
          type: "Failed",
          status: "True",
          reason: "BackoffLimitExceeded",
          message: "Job has reached the specified backoff limit",
        },
      ],
    });
    expect((await l.observe([task])).get(task.id)).toMatchObject({ phase: "stopped", exitCode: 3 });
    await l.stop(task, "kill requested", "kill");
    const del = k8s.requests.find((r) => r.method === "DELETE")!;
    const deleted = new URL(del.path, "https://x");
    expect(deleted.pathname).toBe("/apis/batch/v1/namespaces/berth/jobs/res-01m81tsa93f8ffyw297gqps1j1-1");
    expect(Object.fromEntries(deleted.searchParams)).toEqual({
      gracePeriodSeconds: "0",
      propagationPolicy: "Background",
    });
    expect((await l.observe([task])).get(task.id)).toMatchObject({ missing: true });
    await l.stop(task, "again", "stop"); // already gone: a no-op
  });

  it("reads a Job stopped at its deadline as expired", async () => {
    const l = launcher();
    await l.launch(request({ reservationId: "deadline" }));
    k8s.setJob("berth", "res-deadline-1", {
      conditions: [
        {
          type: "Failed",
          status: "True",
          reason: "DeadlineExceeded",
          message: "Job was active longer than specified deadline",
        },
      ],
    });
    expect(
      (await l.observe([{ launcher: "eks", id: "berth/res-deadline-1" }])).get("berth/res-deadline-1"),
    ).toMatchObject({
      phase: "stopped",
      expired: true,
    });
  });

  it("sets the container's resources.limits cpu and memory (<N>Mi) from the job's resource limits", async () => {
    await launcher().launch(
      request({ reservationId: "limits", gpus: { count: 0 }, limits: { cpus: 0.5, memoryMiB: 512 } }),
    );
    const create = k8s.requests.find(
      (r) =>
        r.method === "POST" && (r.body as { metadata: { name: string } }).metadata.name === "res-limits-1",
    )!;
    const body = create.body as { spec: { template: { spec: { containers: { resources?: unknown }[] } } } };
    expect(body.spec.template.spec.containers[0]!.resources).toEqual({
      limits: { cpu: "0.5", memory: "512Mi" },
    });
  });

  it("finds where a Job's pod runs: its node, pod IP and host IP (by the job-name label)", async () => {
    const l = launcher();
    await l.launch(request({ reservationId: "net" }));
    const task = { launcher: "eks" as const, id: "berth/res-net-1" };
    k8s.setPod("berth", "res-net-1", { waiting: { reason: "ContainerCreating" } }, "Pending");
    expect(await l.network!(task)).toBeUndefined(); // not scheduled yet
    k8s.setPod("berth", "res-net-1", { running: { startedAt: "2026-11-22T12:00:00Z" } }, "Running", {
      nodeName: "ip-10-0-1-5.ec2.internal",
      podIP: "10.0.1.77",
      hostIP: "10.0.1.5",
    });
    expect(await l.network!(task)).toEqual({
      host: "ip-10-0-1-5.ec2.internal",
      ipAddresses: ["10.0.1.77", "10.0.1.5"],
      endpoints: [],
      ports: [],
    });
    expect(await l.network!({ launcher: "eks", id: "berth/res-none-1" })).toBeUndefined();
  });

  it("makes a token once and reuses it for a while", () => {
    expect(tokens).toBeGreaterThan(0);
    expect(tokens).toBeLessThanOrEqual(k8s.requests.length);
  });
});
