/**
 * The GPU families the cloud cluster can scale out: one launch template, autoscaling group (0 to
 * `maxInstances`) and ECS capacity provider each. A job's `gpus.type` picks its family by `gpuType`
 * (case-insensitive, "L4" matches "NVIDIA L4"); jobs that name no type go to `DEFAULT_GPU_FAMILY`.
 * Idle, a family costs nothing: its group sits at 0 instances until a task needs one.
 * Edit to taste: any ECS GPU instance type works (g4dn, g5, g6, g6e, p4d, p5...), within your account's
 * EC2 quotas for that family.
 */
export const GPU_FAMILIES = [
  { name: "l4", gpuType: "L4", instanceType: "g6.xlarge", maxInstances: 4 },
  { name: "a10g", gpuType: "A10G", instanceType: "g5.xlarge", maxInstances: 2 },
] as const;

export const DEFAULT_GPU_FAMILY = "l4";

/** The image of cloud jobs that name none (a job's `container.image` gets a task definition of its own). */
export const DEFAULT_JOB_IMAGE = "public.ecr.aws/docker/library/ubuntu:24.04";
