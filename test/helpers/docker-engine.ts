import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { run } from "../../agent/exec.ts";
import { until } from "./wait.ts";

/** The image the container tests run: a static busybox (sh, sleep, cat, env, httpd, nc, ...) and nothing else. */
export const TEST_IMAGE = "berth-test/busybox:1";

/** A Docker engine for a test file: its `DOCKER_HOST`, and the docker CLI pointed at it. */
export interface DockerEngine {
  /** `unix:///.../docker.sock`: give it to an agent as DOCKER_HOST. */
  host: string;
  docker(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }>;
  /**
   * Stops the daemon with all it ran, and removes its directory and bridge; an engine named by
   * BERTH_TEST_DOCKER_HOST is left as it is (tests remove their containers from it themselves).
   */
  stop(): Promise<void>;
}

const which = (cmd: string, extra: string[] = []): string | undefined => {
  const found = spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" }).stdout.trim();
  return found || extra.find((p) => existsSync(p));
};

/** An ELF executable without an interpreter (PT_INTERP): it runs in an image that has no libc. */
function isStatic(path: string): boolean {
  const fd = openSync(path, "r");
  try {
    const head = Buffer.alloc(64);
    readSync(fd, head, 0, 64, 0);
    if (head.readUInt32BE(0) !== 0x7f454c46 || head[4] !== 2 || head[5] !== 1) return false; // ELF64 LE only
    const phoff = Number(head.readBigUInt64LE(0x20));
    const size = head.readUInt16LE(0x36);
    const count = head.readUInt16LE(0x38);
    const table = Buffer.alloc(size * count);
    readSync(fd, table, 0, table.length, phoff);
    for (let i = 0; i < count; i++) if (table.readUInt32LE(i * size) === 3) return false;
    return true;
  } finally {
    closeSync(fd);
  }
}

const busybox = () => ["/bin/busybox", "/usr/bin/busybox"].find((p) => existsSync(p) && isStatic(p));
const dockerd = () => which("dockerd", ["/usr/sbin/dockerd", "/usr/bin/dockerd"]);

/**
 * Why no Docker engine can be had for the tests, or undefined when one can: BERTH_TEST_DOCKER_HOST names
 * one, or this run may start its own (Debian's docker.io, as root, and a static busybox to build the image).
 */
export function dockerMissing(): string | undefined {
  if (!which("docker")) return "no docker CLI: install Debian's docker.io";
  if (process.env.BERTH_TEST_DOCKER_HOST) return undefined;
  if (!dockerd()) return "no dockerd: install Debian's docker.io (or set BERTH_TEST_DOCKER_HOST)";
  if (process.getuid?.() !== 0)
    return `starting dockerd needs root (this is uid ${process.getuid?.()}); or set BERTH_TEST_DOCKER_HOST`;
  if (!which("ip", ["/usr/sbin/ip", "/sbin/ip"]))
    return "no ip command (iproute2) to make the engine's bridge";
  if (!busybox()) return "no static busybox to build the test image from: install Debian's busybox-static";
  return undefined;
}

/**
 * Declares `body` with a Docker engine started for it (before its tests; stopped, with everything it ran,
 * after them). Where none can be had it is reported as skipped with the reason, and in CI (CI=true), where
 * .ci/run installs one, it fails: the same rule as the storage engines (helpers/engines.ts).
 */
export function describeWithDocker(title: string, body: (engine: () => DockerEngine) => void) {
  const missing = dockerMissing();
  if (!missing) {
    describe(title, () => {
      let engine: DockerEngine | undefined;
      // Registered before the body's hooks: started before them, stopped after them.
      beforeAll(async () => {
        engine = await startTestDocker();
      }, 120_000);
      afterAll(() => engine?.stop(), 120_000);
      body(() => engine!);
    });
  } else if (process.env.CI === "true") {
    describe(title, () => {
      it("needs a Docker engine in CI (.ci/run installs docker.io and busybox-static)", () => {
        throw new Error(`no Docker engine: ${missing}`);
      });
    });
  } else {
    console.warn(`[docker] skipping "${title}": ${missing}`);
    describe.skip(`${title} (skipped: ${missing})`, () => {
      it("runs when a Docker engine can be started", () => {});
    });
  }
}

/** An unused /24 for the engine's bridge, not overlapping any route of this machine. */
function freeSubnet(): string {
  const routes = execFileSync(which("ip", ["/usr/sbin/ip", "/sbin/ip"])!, ["-4", "route"], {
    encoding: "utf8",
  })
    .split("\n")
    .map((l) => l.split(" ")[0] ?? "")
    .filter((c) => /^\d+\.\d+\.\d+\.\d+(\/\d+)?$/.test(c));
  const toInt = (ip: string) => ip.split(".").reduce((n, o) => n * 256 + Number(o), 0);
  for (;;) {
    const base = `172.30.${Math.floor(Math.random() * 256)}`;
    const ours = toInt(`${base}.0`);
    const clash = routes.some((r) => {
      const [ip, bits = "32"] = r.split("/");
      const size = 2 ** (32 - Number(bits));
      const start = toInt(ip!) - (toInt(ip!) % size);
      return ours < start + size && start < ours + 256;
    });
    if (!clash) return `${base}.1/24`;
  }
}

/**
 * Runs as its own session (so Ctrl-C on the test run does not cut it short): makes the bridge, runs
 * dockerd, and once the test process is gone or asks (a `stop` file), removes every container, stops
 * dockerd (and the containerd it started), unmounts what is left, deletes the bridge and the directory.
 */
const SUPERVISOR = `
dir=$1 parent=$2 bridge=$3 cidr=$4 dockerd=$5 docker=$6
host=unix://$dir/docker.sock
ip link add "$bridge" type bridge && ip addr add "$cidr" dev "$bridge" && ip link set "$bridge" up || {
  echo "could not make the bridge $bridge" >&2; rm -rf "$dir"; exit 1; }
echo '{}' > "$dir/daemon.json"
"$dockerd" --config-file "$dir/daemon.json" --host "$host" --data-root "$dir/data" --exec-root "$dir/exec" \\
  --pidfile "$dir/docker.pid" --storage-driver vfs --bridge "$bridge" \\
  --iptables=false --ip-forward=false --ip-masq=false --log-level warn > "$dir/dockerd.log" 2>&1 &
daemon=$!
while kill -0 "$parent" 2>/dev/null && [ ! -e "$dir/stop" ] && kill -0 "$daemon" 2>/dev/null; do sleep 0.2; done
kill -0 "$daemon" 2>/dev/null || { echo "dockerd exited:" >&2; tail -20 "$dir/dockerd.log" >&2; }
ids=$("$docker" -H "$host" ps -aq 2>/dev/null)
[ -z "$ids" ] || "$docker" -H "$host" rm -f $ids >/dev/null 2>&1
kill -TERM "$daemon" 2>/dev/null
i=0; while kill -0 "$daemon" 2>/dev/null && [ $i -lt 150 ]; do sleep 0.2; i=$((i+1)); done
kill -KILL "$daemon" 2>/dev/null; wait "$daemon" 2>/dev/null
pid=$(cat "$dir/exec/containerd/containerd.pid" 2>/dev/null) && kill -KILL "$pid" 2>/dev/null
grep -F " $dir/" /proc/self/mountinfo | cut -d' ' -f5 | sort -r | while read -r m; do umount -l "$m"; done
ip link del "$bridge" 2>/dev/null
rm -rf "$dir"
`;

/** The engine BERTH_TEST_DOCKER_HOST names, or a new dockerd in a temporary directory; the test image imported. */
export async function startTestDocker(): Promise<DockerEngine> {
  const given = process.env.BERTH_TEST_DOCKER_HOST;
  const dir = given ? undefined : mkdtempSync(join(tmpdir(), "berth-docker-"));
  const host = given ?? `unix://${dir}/docker.sock`;
  const docker = (args: string[], timeoutMs = 60_000) =>
    run("docker", args, { env: { ...process.env, DOCKER_HOST: host }, timeoutMs });
  let supervisor: ChildProcess | undefined;
  let stderr = "";
  if (dir) {
    const bridge = `berth-${Math.random().toString(16).slice(2, 8)}`;
    supervisor = spawn(
      "sh",
      ["-c", SUPERVISOR, "sh", dir, String(process.pid), bridge, freeSubnet(), dockerd()!, which("docker")!],
      {
        detached: true,
        stdio: ["ignore", "ignore", "pipe"],
        // dockerd finds runc, containerd, docker-proxy and docker-init on the PATH.
        env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/usr/bin:/sbin:/bin` },
      },
    );
    supervisor.stderr!.on("data", (d: Buffer) => {
      stderr += d;
    });
    supervisor.unref();
    (supervisor.stderr as unknown as { unref?: () => void }).unref?.();
    try {
      await until(async () => {
        if (supervisor!.exitCode !== null) throw new Error(`dockerd did not start:\n${stderr}`);
        return (await docker(["version", "--format", "{{.Server.Version}}"], 5000)).code === 0;
      }, 60_000);
    } catch (err) {
      await stopSupervisor(supervisor, dir);
      throw err;
    }
  }
  const engine: DockerEngine = {
    host,
    docker: (args) => docker(args),
    async stop() {
      if (supervisor && dir) await stopSupervisor(supervisor, dir);
    },
  };
  try {
    if ((await docker(["image", "inspect", TEST_IMAGE])).code !== 0) await importImage(docker);
  } catch (err) {
    await engine.stop();
    throw err;
  }
  return engine;
}

async function stopSupervisor(supervisor: ChildProcess, dir: string) {
  if (existsSync(dir)) writeFileSync(join(dir, "stop"), "");
  await until(() => supervisor.exitCode !== null || supervisor.signalCode !== null, 90_000);
}

/** The test image: a static busybox with a link for each of its applets, imported from a tarball. */
async function importImage(docker: (args: string[]) => ReturnType<DockerEngine["docker"]>) {
  const bin = busybox();
  if (!bin) throw new Error(`${TEST_IMAGE} is missing and there is no static busybox to build it from`);
  const work = mkdtempSync(join(tmpdir(), "berth-image-"));
  try {
    const root = join(work, "rootfs");
    for (const d of ["bin", "etc", "root", "tmp"]) mkdirSync(join(root, d), { recursive: true });
    chmodSync(join(root, "tmp"), 0o1777);
    copyFileSync(bin, join(root, "bin", "busybox"));
    chmodSync(join(root, "bin", "busybox"), 0o755);
    const applets = execFileSync(bin, ["--list"], { encoding: "utf8" }).split("\n").filter(Boolean);
    for (const a of applets) if (a !== "busybox") symlinkSync("busybox", join(root, "bin", a));
    writeFileSync(
      join(root, "etc", "passwd"),
      "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n",
    );
    writeFileSync(join(root, "etc", "group"), "root:x:0:\nnogroup:x:65534:\n");
    const tar = join(work, "rootfs.tar");
    execFileSync("tar", ["-cf", tar, "-C", root, "."]);
    const res = await docker(["import", "--change", 'CMD ["/bin/sh"]', tar, TEST_IMAGE]);
    if (res.code !== 0) throw new Error(`docker import failed: ${res.stderr}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
