import { DEFAULT_GPU_FAMILY, DEFAULT_JOB_IMAGE, GPU_FAMILIES } from "./gpu-families";

/**
 * EC2 GPU capacity for cloud jobs (specs/cloud.md). SST's Cluster/Service/Task are Fargate-only, and
 * Fargate has no GPUs, so this is raw Pulumi AWS: one ECS cluster; per GPU family a launch template on the
 * ECS GPU-optimised AMI, an autoscaling group from 0 and a capacity provider with managed scaling; one task
 * definition for jobs (GPU resource requirement, awslogs). Instances sit in public subnets with no inbound
 * rule, so no NAT gateway is needed (a NAT gateway alone would cost ~$32 a month while idle).
 */
const region = aws.getRegionOutput().region;
const account = aws.getCallerIdentityOutput().accountId;
const prefix = `${$app.name}-${$app.stage}`;

export const vpc = new sst.aws.Vpc("Vpc", { az: 2 });

const cluster = new aws.ecs.Cluster("GpuCluster", {
  name: `${prefix}-gpu`,
  settings: [{ name: "containerInsights", value: "disabled" }],
});

const instanceRole = new aws.iam.Role("GpuInstanceRole", {
  assumeRolePolicy: aws.iam.assumeRolePolicyForPrincipal({ Service: "ec2.amazonaws.com" }),
});
new aws.iam.RolePolicyAttachment("GpuInstanceEcs", {
  role: instanceRole.name,
  policyArn: "arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role",
});
const instanceProfile = new aws.iam.InstanceProfile("GpuInstanceProfile", { role: instanceRole.name });
const ami = aws.ssm.getParameterOutput({
  name: "/aws/service/ecs/optimized-ami/amazon-linux-2023/gpu/recommended/image_id",
});
const instances = new aws.ec2.SecurityGroup("GpuInstances", {
  vpcId: vpc.id,
  description: "Berth GPU instances: outbound only",
  egress: [{ protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] }],
});
const userData = cluster.name.apply((name) =>
  Buffer.from(
    [
      "#!/bin/bash",
      `echo ECS_CLUSTER=${name} >> /etc/ecs/ecs.config`,
      "echo ECS_ENABLE_GPU_SUPPORT=true >> /etc/ecs/ecs.config",
    ].join("\n"),
  ).toString("base64"),
);

const providers = GPU_FAMILIES.map((family) => {
  const template = new aws.ec2.LaunchTemplate(`Gpu-${family.name}-Template`, {
    imageId: ami.value,
    instanceType: family.instanceType,
    iamInstanceProfile: { arn: instanceProfile.arn },
    networkInterfaces: [{ associatePublicIpAddress: "true", securityGroups: [instances.id] }],
    metadataOptions: { httpTokens: "required" },
    blockDeviceMappings: [
      { deviceName: "/dev/xvda", ebs: { volumeSize: 100, volumeType: "gp3", encrypted: "true" } },
    ],
    userData,
  });
  const group = new aws.autoscaling.Group(
    `Gpu-${family.name}-Group`,
    {
      minSize: 0,
      maxSize: family.maxInstances,
      vpcZoneIdentifiers: vpc.publicSubnets,
      launchTemplate: { id: template.id, version: "$Latest" },
      // Managed termination protection: ECS scales in only instances without tasks.
      protectFromScaleIn: true,
      tags: [{ key: "AmazonECSManaged", value: "true", propagateAtLaunch: true }],
    },
    { ignoreChanges: ["desiredCapacity"] },
  );
  const provider = new aws.ecs.CapacityProvider(`Gpu-${family.name}-Capacity`, {
    name: `${prefix}-${family.name}`,
    autoScalingGroupProvider: {
      autoScalingGroupArn: group.arn,
      managedTerminationProtection: "ENABLED",
      managedScaling: {
        status: "ENABLED",
        targetCapacity: 100,
        minimumScalingStepSize: 1,
        maximumScalingStepSize: family.maxInstances,
      },
    },
  });
  return { family, provider };
});

new aws.ecs.ClusterCapacityProviders("GpuClusterCapacity", {
  clusterName: cluster.name,
  capacityProviders: providers.map((p) => p.provider.name),
});

export const jobLogs = new aws.cloudwatch.LogGroup("JobLogs", {
  name: `/berth/${prefix}/jobs`,
  retentionInDays: 30,
});

const ecsTasks = aws.iam.assumeRolePolicyForPrincipal({ Service: "ecs-tasks.amazonaws.com" });
const executionRole = new aws.iam.Role("JobExecutionRole", { assumeRolePolicy: ecsTasks });
new aws.iam.RolePolicyAttachment("JobExecution", {
  role: executionRole.name,
  policyArn: "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy",
});
/** What jobs themselves may do in AWS: nothing, unless you attach policies to this role. */
const taskRole = new aws.iam.Role("JobTaskRole", { assumeRolePolicy: ecsTasks });

const family = `${prefix}-job`;
const taskDefinition = new aws.ecs.TaskDefinition("JobTask", {
  family,
  requiresCompatibilities: ["EC2"],
  networkMode: "bridge",
  executionRoleArn: executionRole.arn,
  taskRoleArn: taskRole.arn,
  containerDefinitions: $jsonStringify([
    {
      name: "job",
      image: DEFAULT_JOB_IMAGE,
      essential: true,
      memoryReservation: 1024,
      resourceRequirements: [{ type: "GPU", value: "1" }],
      stopTimeout: 30,
      logConfiguration: {
        logDriver: "awslogs",
        options: {
          "awslogs-group": jobLogs.name,
          "awslogs-region": region,
          "awslogs-stream-prefix": "berth",
        },
      },
    },
  ]),
});

const capacityProviders = $resolve(providers.map((p) => p.provider.name)).apply((names) =>
  [
    `default=${names[GPU_FAMILIES.findIndex((f) => f.name === DEFAULT_GPU_FAMILY)]}`,
    ...GPU_FAMILIES.map((f, i) => `${f.gpuType}=${names[i]}`),
  ].join(","),
);

/**
 * What the API, the workers and the reconciler need of the GPU cluster, with least-privilege permissions:
 * RunTask only of this app's job task definitions on this cluster, StopTask/DescribeTasks only of its
 * tasks, PassRole only of the job roles, to ECS; reading only the job log group.
 */
export const gpuCluster = new sst.Linkable("GpuCluster", {
  properties: {
    cluster: cluster.arn,
    taskDefinition: taskDefinition.family,
    container: "job",
    capacityProviders,
    logGroup: jobLogs.name,
  },
  include: [
    sst.aws.permission({
      actions: ["ecs:RunTask"],
      resources: [$interpolate`arn:aws:ecs:${region}:${account}:task-definition/${family}*`],
      conditions: [{ test: "ArnEquals", variable: "ecs:cluster", values: [cluster.arn] }],
    }),
    sst.aws.permission({
      actions: ["ecs:StopTask", "ecs:DescribeTasks"],
      resources: [$interpolate`arn:aws:ecs:${region}:${account}:task/${cluster.name}/*`],
    }),
    sst.aws.permission({
      actions: ["ecs:TagResource"],
      resources: ["*"],
      conditions: [
        { test: "StringEquals", variable: "ecs:CreateAction", values: ["RunTask", "RegisterTaskDefinition"] },
      ],
    }),
    // Neither supports resource-level permissions; jobs with their own image get a revision of their own.
    sst.aws.permission({
      actions: ["ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition"],
      resources: ["*"],
    }),
    sst.aws.permission({
      actions: ["iam:PassRole"],
      resources: [executionRole.arn, taskRole.arn],
      conditions: [
        { test: "StringEquals", variable: "iam:PassedToService", values: ["ecs-tasks.amazonaws.com"] },
      ],
    }),
    sst.aws.permission({ actions: ["logs:GetLogEvents"], resources: [$interpolate`${jobLogs.arn}:*`] }),
  ],
});

export const gpuOutputs = {
  gpuCluster: cluster.name,
  gpuCapacityProviders: capacityProviders,
  jobTaskDefinition: family,
  jobLogGroup: jobLogs.name,
  jobTaskRole: taskRole.arn,
  clusterArn: cluster.arn,
};
