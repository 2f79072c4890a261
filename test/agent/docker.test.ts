import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../../agent/exec.ts";
import { containerName, DockerRuntime, dockerError, dockerRunArgs } from "../../agent/runtimes/docker.ts";
import { ContainerData } from "../../shared/domain/reservation-data.ts";
import { describeWithDocker, TEST_IMAGE } from "../helpers/docker-engine.ts";
import { until } from "../helpers/wait.ts";

describe("dockerRunArgs", () => {
  it("gives an application's container its name, restart policy, network and Docker settings", () => {
    const data = ContainerData.parse({
      image: "busybox",
      mounts: [{ source: "/srv", target: "/data", readOnly: true }],
    });
    const args = dockerRunArgs("r3", data, undefined, {
      name: "berth-app-a1-web",
      applicationId: "a1",
      restartPolicy: { name: "on-failure", maximumRetryCount: 4 },
      network: "berth-app-a1",
      hostname: "web-1",
      privileged: true,
      capAdd: ["NET_ADMIN"],
      capDrop: ["MKNOD", "CHOWN"],
      shmSizeBytes: 67108864,
      memoryBytes: 536870912,
      forcePull: true,
    });
    const valuesOf = (flag: string) => args.filter((_, i) => args[i - 1] === flag);
    expect(valuesOf("--name")).toEqual(["berth-app-a1-web"]);
    expect(valuesOf("--restart")).toEqual(["on-failure:4"]);
    expect(valuesOf("--network")).toEqual(["berth-app-a1"]);
    expect(valuesOf("--hostname")).toEqual(["web-1"]);
    expect(args).toContain("--privileged");
    expect(valuesOf("--cap-add")).toEqual(["NET_ADMIN"]);
    expect(valuesOf("--cap-drop")).toEqual(["MKNOD", "CHOWN"]);
    expect(valuesOf("--shm-size")).toEqual(["67108864b"]);
    expect(valuesOf("--memory")).toEqual(["536870912b"]);
    expect(valuesOf("--pull")).toEqual(["always"]);
    expect(valuesOf("--mount")).toEqual(["type=bind,source=/srv,target=/data,readonly"]);
    // Options before the image: everything after it is the container's own arguments.
    expect(args.indexOf("busybox")).toBeGreaterThan(args.indexOf("--pull"));
  });

  it("reads secret env from a file (never argv) and mounts each secret file read-only", () => {
    const data = ContainerData.parse({ image: "busybox", mounts: [{ source: "/srv", target: "/srv" }] });
    const args = dockerRunArgs("r2", data, {
      envFile: "/run/berth-agent/secrets/r2.env",
      mounts: [{ source: "/run/berth-agent/secrets/r2/run/secrets/db.json", target: "/run/secrets/db.json" }],
    });
    expect(args.slice(args.indexOf("--env-file"), args.indexOf("--env-file") + 2)).toEqual([
      "--env-file",
      "/run/berth-agent/secrets/r2.env",
    ]);
    expect(args.filter((_, i) => args[i - 1] === "--mount")).toEqual([
      "type=bind,source=/srv,target=/srv",
      "type=bind,source=/run/berth-agent/secrets/r2/run/secrets/db.json,target=/run/secrets/db.json,readonly",
    ]);
  });

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
      "--init",
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
      "--mount",
      "type=bind,source=/data,target=/data,readonly",
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

describe("dockerRunArgs mounts", () => {
  it("quotes a bind's fields for --mount's CSV when they hold a comma, a quote or a space", () => {
    const data = ContainerData.parse({
      image: "x",
      mounts: [{ source: '/data/a,b "c"', target: "/in:side" }],
    });
    const args = dockerRunArgs("r4", data);
    expect(args[args.indexOf("--mount") + 1]).toBe('type=bind,"source=/data/a,b ""c""",target=/in:side');
  });
});

describe("dockerError", () => {
  it("keeps the daemon's message, without the CLI's prefix and its usage hint", () => {
    const stderr = [
      "docker: Error response from daemon: unable to find user nobody2: no matching entries in passwd file",
      "",
      "Run 'docker run --help' for more information",
      "",
    ].join("\n");
    expect(dockerError(stderr)).toBe(
      "Error response from daemon: unable to find user nobody2: no matching entries in passwd file",
    );
  });

  it("leaves out pull progress, and falls back to the last line when no line is an error", () => {
    expect(
      dockerError(
        "Unable to find image 'x:1' locally\ndocker: Error response from daemon: pull access denied\n",
      ),
    ).toBe("Error response from daemon: pull access denied");
    expect(dockerError("docker: invalid reference format.\nSee 'docker run --help'.\n")).toBe(
      "invalid reference format.",
    );
    expect(dockerError("")).toBe("no message");
  });
});

const LONG = 60_000;
const tmp = (prefix: string) => mkdtemp(join(tmpdir(), `berth-${prefix}-`));
/** Runs until stopped, after `ready`; `wait` (unlike a `sleep`) is cut short by a trapped signal. */
const loop = (trap: string) => `${trap}; echo ready; while :; do sleep 1 & wait $!; done`;

/** DockerRuntime on a real engine (helpers/docker-engine.ts), driven from this process. */
describeWithDocker("DockerRuntime on a real Docker engine", (engine) => {
  const runtimeOn = (host: string) =>
    new DockerRuntime((command, args, opts) =>
      run(command, args, { ...opts, env: { ...process.env, DOCKER_HOST: host } }),
    );
  let docker: DockerRuntime;
  let dir: string;
  let previousHost: string | undefined;
  const ids: string[] = [];
  /** A container started for a test (removed after the file), its workload files under `dir`. */
  const start = async (command: string, extra: Record<string, unknown> = {}) => {
    const id = `t-${Math.random().toString(36).slice(2, 10)}`;
    ids.push(id);
    const data = ContainerData.parse({ image: TEST_IMAGE, command: ["sh", "-c", command], ...extra });
    return { id, data, ...(await docker.start(id, data, join(dir, "workloads"))) };
  };
  const stdoutOf = (w: { dir: string }) => readFile(join(w.dir, "stdout"), "utf8");

  beforeAll(async () => {
    // The log follower is spawned with this process's environment, as the agent's is.
    previousHost = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = engine().host;
    docker = runtimeOn(engine().host);
    dir = await tmp("docker-runtime");
  });
  afterAll(async () => {
    if (ids.length > 0) await engine().docker(["rm", "-f", ...ids.map(containerName)]);
    if (previousHost === undefined) delete process.env.DOCKER_HOST;
    else process.env.DOCKER_HOST = previousHost;
    await rm(dir, { recursive: true, force: true });
  });

  it("tells a container that is gone from a daemon that does not answer", async () => {
    expect(await docker.status("berth-no-such-container")).toEqual({ state: "missing" });
    const down = await runtimeOn("unix:///nonexistent/docker.sock").status("berth-no-such-container");
    expect(down.state).toBe("unknown");
  });

  it(
    "adopts the container of a run that crashed before recording it: it runs once, its logs are read once",
    async () => {
      const marks = await tmp("adopt");
      try {
        const first = await start(
          "echo run >> /m/runs; echo out; until [ -e /m/finish ]; do sleep 0.1; done; echo end",
          { mounts: [{ source: marks, target: "/m" }] },
        );
        await until(async () => (await stdoutOf(first)) === "out\n", LONG);
        // What a restarted agent does with a reservation it has no record of: start it again.
        const again = await docker.start(first.id, first.data, join(dir, "workloads"));
        expect(again.name).toBe(first.name);
        await writeFile(join(marks, "finish"), "");
        await until(async () => (await docker.status(again.name, again.logsPid)).state === "exited", LONG);
        expect(await stdoutOf(again)).toBe("out\nend\n");
        expect(await readFile(join(marks, "runs"), "utf8")).toBe("run\n");
      } finally {
        await rm(marks, { recursive: true, force: true });
      }
    },
    3 * LONG,
  );

  it(
    "stops a container only once its last output is in the files, then removes it",
    async () => {
      const w = await start(loop("trap 'echo bye; echo gone >&2; exit 0' TERM"));
      await until(async () => (await stdoutOf(w)) === "ready\n", LONG);
      expect(await docker.stop(w.name, 30, true, w.logsPid)).toBe(0);
      expect(await stdoutOf(w)).toBe("ready\nbye\n");
      expect(await readFile(join(w.dir, "stderr"), "utf8")).toBe("gone\n");
      expect(await docker.status(w.name)).toEqual({ state: "missing" });
    },
    3 * LONG,
  );

  it(
    "stops a paused container with SIGTERM: it is unpaused first, so that its handler runs",
    async () => {
      const w = await start(loop("trap 'exit 9' TERM"));
      await until(async () => (await stdoutOf(w)) === "ready\n", LONG);
      await docker.signal(w.name, "pause");
      expect(await docker.stop(w.name, 30, true, w.logsPid)).toBe(9);
    },
    3 * LONG,
  );

  it(
    "says why an image cannot be pulled, in words that make the job ImagePullFailed",
    async () => {
      const id = `t-${Math.random().toString(36).slice(2, 10)}`;
      ids.push(id);
      const data = ContainerData.parse({ image: "berth-test/no-such-image:1" });
      await expect(docker.start(id, data, join(dir, "workloads"))).rejects.toThrow(
        /^docker run failed: could not pull berth-test\/no-such-image:1: Error response from daemon: /,
      );
      await expect(docker.pull("berth-test/no-such-image:1")).rejects.toThrow(
        /^docker pull berth-test\/no-such-image:1 failed: Error response from daemon: /,
      );
    },
    3 * LONG,
  );
});
