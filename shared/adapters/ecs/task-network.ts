import { DescribeContainerInstancesCommand, DescribeTasksCommand, type ECSClient } from "@aws-sdk/client-ecs";
import type { TaskRef } from "../../domain/cloud-reservation.ts";
import type { TaskNetwork } from "../../domain/job-network.ts";
import { TransientLaunchError } from "../../ports/cloud.ts";

/**
 * Where a running ECS task is (specs/launcher-extras.md §2), with the ECS client alone: its job container's
 * `networkBindings` (DescribeTasks) and its container instance's EC2 instance id (DescribeContainerInstances).
 * In bridge mode a task has no address of its own, and the instance's private IP and DNS name would need
 * ec2:DescribeInstances (another client and permission, not wired in): the answer says that is missing.
 * Undefined when ECS does not know the task.
 */
export async function ecsTaskNetwork(
  ecs: ECSClient,
  settings: { cluster: string; container: string },
  task: TaskRef,
): Promise<Omit<TaskNetwork, "taskId"> | undefined> {
  try {
    const out = await ecs.send(new DescribeTasksCommand({ cluster: settings.cluster, tasks: [task.id] }));
    const t = out.tasks?.[0];
    if (!t) return undefined;
    const bindings = t.containers?.find((c) => c.name === settings.container)?.networkBindings ?? [];
    const ports = bindings
      .filter((b) => b.containerPort && b.hostPort)
      .map((b) => ({
        containerPort: b.containerPort!,
        hostPort: b.hostPort!,
        protocol: b.protocol ?? "tcp",
      }));
    const instances = t.containerInstanceArn
      ? await ecs.send(
          new DescribeContainerInstancesCommand({
            cluster: settings.cluster,
            containerInstances: [t.containerInstanceArn],
          }),
        )
      : undefined;
    const host = instances?.containerInstances?.[0]?.ec2InstanceId;
    return {
      ...(host ? { host } : {}),
      ipAddresses: [],
      endpoints: [],
      ports,
      missing:
        "the EC2 instance's private IP and DNS name (ec2:DescribeInstances is not called yet): host is its instance id, endpoints are left out",
    };
  } catch (err) {
    throw new TransientLaunchError(`ECS DescribeTasks: ${(err as Error).message}`, { cause: err });
  }
}
