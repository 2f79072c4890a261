import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  parseDockerStats,
  parseGpuUse,
  processGroupUsage,
  SamplingLeases,
  statFields,
  statusMemory,
  UsageSampler,
} from "../../agent/usage.ts";
import type { UsageSample } from "../../shared/domain/usage.ts";
import { until } from "../helpers/wait.ts";

/** Moves the fake processes' utime to `ticks`. */
async function rewrite(dir: string, ticks: number) {
  for (const pid of [500, 501]) {
    const path = join(dir, String(pid), "stat");
    const fields = (await readFile(path, "utf8")).split(" ");
    // pid, "(python", "(worker))", then field 3 on: utime is field 14.
    fields[14 - 3 + 3] = String(ticks);
    await writeFile(path, fields.join(" "));
  }
}

/** A /proc with two processes of group 500 and one of another group. */
async function fakeProc(ticks: number) {
  const dir = await mkdtemp(join(tmpdir(), "berth-proc-"));
  const proc = async (pid: number, pgrp: number, utime: number, rssKb: number) => {
    await mkdir(join(dir, String(pid)));
    // comm with a space and a parenthesis, as a real one may have
    const fields = [
      "S",
      "1",
      String(pgrp),
      String(pgrp),
      "0",
      "-1",
      "0",
      "0",
      "0",
      "0",
      "0",
      String(utime),
      "50",
      "100",
      "0",
    ];
    await writeFile(join(dir, String(pid), "stat"), `${pid} (python (worker)) ${fields.join(" ")} 20 0 1 0`);
    await writeFile(
      join(dir, String(pid), "status"),
      `Name:\tpython\nVmSize:\t  204800 kB\nVmRSS:\t   10240 kB\n`.replace("10240", String(rssKb)),
    );
  };
  await proc(500, 500, ticks, 10240);
  await proc(501, 500, ticks, 20480);
  await proc(600, 600, 9999, 1024);
  await writeFile(join(dir, "stat"), "cpu 1 2 3\n");
  return dir;
}

describe("reading /proc", () => {
  it("parses stat after the command, and VmRSS/VmSize in MiB", () => {
    expect(statFields("42 (a) b) S 1 42 42")?.slice(0, 3)).toEqual(["S", "1", "42"]);
    expect(statusMemory("VmSize:\t  2048 kB\nVmRSS:\t 1024 kB\n")).toEqual({ rssMiB: 1, vmMiB: 2 });
  });

  it("sums a process group: utime+stime now, plus reaped children's in cpuTime", async () => {
    const u = await processGroupUsage(500, await fakeProc(200));
    expect(u.pids.sort()).toEqual([500, 501]);
    expect(u.cpuSeconds).toBe(((200 + 50) * 2) / 100);
    expect(u.cpuTime).toBe(((200 + 50 + 100) * 2) / 100);
    expect(u.rssMiB).toBe(30);
    expect(u.vmMiB).toBe(400);
  });

  it("reads this test's own process group from the real /proc", async () => {
    const child = spawn("sh", ["-c", "sleep 5"], { detached: true, stdio: "ignore" });
    try {
      await new Promise((ok) => child.once("spawn", ok));
      const u = await processGroupUsage(child.pid!);
      expect(u.pids).toContain(child.pid);
      expect(u.rssMiB).toBeGreaterThan(0);
    } finally {
      process.kill(-child.pid!, "SIGKILL");
    }
  });
});

describe("UsageSampler", () => {
  it("gives cpuPercent of the CPUs it may use from the change between two samples; leaves out what it cannot measure", async () => {
    const proc = await fakeProc(200);
    const run = async () => ({ code: 0, stdout: "0, 87, 40000\n1, 5, 100\n", stderr: "" });
    const sampler = new UsageSampler({ run, proc, cores: 4 });
    const first = await sampler.sample("r1", { kind: "process", pgid: 500, gpus: [0] }, 1_000_000);
    expect(first).not.toHaveProperty("cpuPercent");
    expect(first).toMatchObject({ cpuTime: 7, residentMemory: 30, virtualMemory: 400 });
    expect(first.gpus).toEqual([{ index: 0, utilizationPercent: 87, memoryUsedMiB: 40000 }]);
    // 2 s later both processes used 100 more ticks each: 2 CPU seconds in 2 s is one core of the four.
    await rewrite(proc, 300);
    const moved = await sampler.sample("r1", { kind: "process", pgid: 500, gpus: [] }, 1_002_000);
    expect(moved).toMatchObject({ cpuCores: 1, cpuPercent: 25, cpuTime: 9 });
    // A container job limited to 2 CPUs: the same core is half of what it may use.
    const limited = new UsageSampler({ run, proc, cores: 4 });
    await limited.sample("r3", { kind: "process", pgid: 500, gpus: [], cpuLimit: 2 }, 0);
    await rewrite(proc, 400);
    expect(
      (await limited.sample("r3", { kind: "process", pgid: 500, gpus: [], cpuLimit: 2 }, 2000)).cpuPercent,
    ).toBe(50);
    const gone = await sampler.sample("r2", { kind: "process", pgid: 777, gpus: [] });
    expect(Object.keys(gone)).toEqual(["sampledAt"]);
  });

  it("reads docker stats: 100% is one core; memory in MiB", () => {
    expect(parseDockerStats('{"CPUPerc":"150.00%","MemUsage":"1.5GiB / 7.7GiB"}')).toEqual({
      cores: 1.5,
      rssMiB: 1536,
    });
    expect(parseDockerStats("not json")).toEqual({});
    expect(parseGpuUse("0, [N/A], 10\n3, 50, 1\n", [0])).toEqual([{ index: 0, memoryUsedMiB: 10 }]);
  });
});

describe("SamplingLeases", () => {
  it("samples until the lease ends, extends on renewal, and stops when the workload is gone", async () => {
    const posted: UsageSample[] = [];
    let running = true;
    const leases = new SamplingLeases({
      sampler: new UsageSampler({
        run: async () => ({ code: 1, stdout: "", stderr: "" }),
        proc: await fakeProc(1),
      }),
      target: () => (running ? { kind: "process", pgid: 500, gpus: [] } : undefined),
      post: async (_id, s) => void posted.push(...s),
      log: { warn: () => {} },
    });
    leases.lease("r1", 1, new Date(Date.now() - 1000).toISOString());
    expect(leases.active()).toEqual([]);
    leases.lease("r1", 1, new Date(Date.now() + 60_000).toISOString());
    leases.lease("r1", 1, new Date(Date.now() + 90_000).toISOString());
    await until(() => posted.length === 1);
    expect(leases.active()).toEqual(["r1"]);
    running = false;
    await until(() => leases.active().length === 0);
  });

  it("stops sampling once the lease's end has passed, without a renewal", async () => {
    const posted: UsageSample[] = [];
    const leases = new SamplingLeases({
      sampler: new UsageSampler({
        run: async () => ({ code: 1, stdout: "", stderr: "" }),
        proc: await fakeProc(1),
      }),
      target: () => ({ kind: "process", pgid: 500, gpus: [] }),
      post: async (_id, s) => void posted.push(...s),
      log: { warn: () => {} },
    });
    const end = Date.now() + 1500;
    leases.lease("r1", 1, new Date(end).toISOString());
    await until(() => leases.active().length === 0);
    expect(Date.now()).toBeGreaterThan(end);
    const sent = posted.length;
    expect(sent).toBeGreaterThanOrEqual(1);
    expect(sent).toBeLessThanOrEqual(2);
    await new Promise((ok) => setTimeout(ok, 1200));
    expect(posted).toHaveLength(sent);
  });
});
