import { describe, expect, it } from "vitest";
import { containerName, dockerRunArgs } from "../../agent/runtimes/docker.ts";
import { ContainerData } from "../../shared/domain/reservation-data.ts";

describe("dockerRunArgs", () => {
  it("names the container after the reservation and passes GPUs, env, mounts, ports, workdir and user", () => {
    const data = ContainerData.parse({
      image: "nvcr.io/nvidia/pytorch:24.05-py3",
      command: ["python", "-m"],
      args: ["train", "--epochs", "3"],
      env: { WANDB_MODE: "offline" },
      mounts: [{ source: "/data", target: "/data", readOnly: true }],
      ports: [
        { containerPort: 8888, hostPort: 18888 },
        { containerPort: 6006, protocol: "udp" },
      ],
      gpus: [0, 3],
      workingDirectory: "/workspace",
      user: "1000:1000",
    });
    expect(dockerRunArgs("r1", data)).toEqual([
      "run",
      "-d",
      "--name",
      containerName("r1"),
      "--label",
      "berth.reservation=r1",
      "--gpus",
      '"device=0,3"',
      "-e",
      "WANDB_MODE=offline",
      "-e",
      "BERTH_RESERVATION_ID=r1",
      "-v",
      "/data:/data:ro",
      "-p",
      "18888:8888/tcp",
      "-p",
      "6006/udp",
      "-w",
      "/workspace",
      "-u",
      "1000:1000",
      "--entrypoint",
      "python",
      "nvcr.io/nvidia/pytorch:24.05-py3",
      "-m",
      "train",
      "--epochs",
      "3",
    ]);
  });

  it("asks for all GPUs, or none", () => {
    expect(dockerRunArgs("r2", ContainerData.parse({ image: "x", gpus: "all" }))).toContain("all");
    expect(dockerRunArgs("r3", ContainerData.parse({ image: "x" }))).not.toContain("--gpus");
  });
});
