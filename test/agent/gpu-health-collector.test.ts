import { mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  HealthCollector,
  type HealthCollectorOptions,
  KERNEL_UNREADABLE,
} from "../../agent/health/collector.ts";
import { HealthReport, type HealthState } from "../../shared/domain/gpu-health.ts";
import { type FakeMachine, fakeRunner, fixture, kmsgLines, uuidOf, XID_SEQ } from "./gpu-health-fixtures.ts";

const BTIME = 1741082400; // 2025-03-04T10:00:00Z
const BOOT_1 = "5f1d2c3b-4a5e-6f70-8192-a3b4c5d6e7f8";
const BOOT_2 = "0a9b8c7d-6e5f-4a3b-2c1d-0e9f8a7b6c5d";
const at = (secondsAfterBoot: number, btime = BTIME) => new Date((btime + secondsAfterBoot) * 1000);

/** A machine in a temp dir: kmsg, boot id, /proc/stat and /dev files, and a clock the test moves. */
async function machine(
  o: { kmsg?: string; fake?: FakeMachine; devices?: string[] } & Partial<HealthCollectorOptions> = {},
) {
  const root = await mkdtemp(join(tmpdir(), "berth-health-"));
  const paths = {
    dataDir: join(root, "data"),
    kmsgPath: join(root, "kmsg"),
    bootIdPath: join(root, "boot_id"),
    procStatPath: join(root, "stat"),
    devDir: join(root, "dev"),
  };
  await mkdir(paths.devDir);
  for (const d of o.devices ?? []) await writeFile(join(paths.devDir, d), "");
  await writeFile(paths.kmsgPath, o.kmsg ?? "");
  const clock = { now: at(3600) };
  const boot = async (id: string, btime: number) => {
    await writeFile(paths.bootIdPath, `${id}\n`);
    await writeFile(paths.procStatPath, `cpu  1 2 3 4\nbtime ${btime}\nprocesses 4242\n`);
  };
  await boot(BOOT_1, BTIME);
  const run = fakeRunner(o.fake);
  const make = (extra: Partial<HealthCollectorOptions> = {}) =>
    new HealthCollector({ run, ...paths, now: () => clock.now, ...o, ...extra });
  return { paths, clock, boot, run, collector: make(), make };
}

const component = (r: HealthReport, name: string): HealthState[] =>
  r.states.find((c) => c.component === `accelerator-nvidia-${name}`)?.states ?? [];
const eventLines = async (dataDir: string) =>
  (await readFile(join(dataDir, "health", "events.jsonl"), "utf8").catch(() => ""))
    .split("\n")
    .filter(Boolean);

describe("HealthCollector.collect", () => {
  it("reports a healthy machine: every component, every GPU, no events", async () => {
    const { collector } = await machine({ kmsg: kmsgLines(1101, 1102, 2003) });
    const report = await collector.collect();
    expect(HealthReport.parse(report)).toEqual(report);
    expect(report).toMatchObject({
      source: "berth",
      bootId: BOOT_1,
      bootTime: at(0).toISOString(),
      events: [],
    });
    expect(report.states.map((c) => c.component)).toEqual([
      "accelerator-nvidia-error-xid",
      "accelerator-nvidia-error-sxid",
      "accelerator-nvidia-remapped-rows",
      "accelerator-nvidia-hw-slowdown",
      "accelerator-nvidia-temperature",
      "accelerator-nvidia-ecc",
      "accelerator-nvidia-power",
      "accelerator-nvidia-clock-speed",
      "accelerator-nvidia-gpu-counts",
      "accelerator-nvidia-nvlink",
      "accelerator-nvidia-fabric-manager",
      "accelerator-nvidia-persistence-mode",
    ]);
    expect(report.states.flatMap((c) => c.states).every((s) => s.health === "Healthy")).toBe(true);
    expect(report.gpus.map((g) => [g.index, g.uuid, g.health, g.components])).toEqual(
      [0, 1, 2, 3, 4, 5, 6, 7].map((i) => [i, uuidOf(i), "Healthy", []]),
    );
  });

  it("makes a GPU with a Fatal Xid Unhealthy, and reports each event until it was sent", async () => {
    const { collector, clock } = await machine({ kmsg: kmsgLines(XID_SEQ[13], XID_SEQ[79]) });
    const first = await collector.collect();
    expect(HealthReport.parse(first)).toBeTruthy();
    expect(first.gpus[6]).toEqual({
      index: 6,
      uuid: uuidOf(6),
      health: "Unhealthy",
      components: ["accelerator-nvidia-error-xid"],
    });
    expect(first.gpus[0]?.health).toBe("Healthy"); // Xid 13 is the application's
    expect(first.events.map((e) => e.id)).toEqual([`${BOOT_1}:${XID_SEQ[13]}`, `${BOOT_1}:${XID_SEQ[79]}`]);
    expect(Object.keys(first.events[0]!).sort()).toEqual([
      "component",
      "id",
      "message",
      "name",
      "time",
      "type",
    ]);
    expect(collector.shouldSend(first, undefined, clock.now)).toBe(true);

    await collector.markSent(first);
    clock.now = new Date(clock.now.getTime() + 60_000);
    const second = await collector.collect();
    expect(second.events).toEqual([]);
    const sent = { report: first, at: new Date(clock.now.getTime() - 60_000) };
    expect(collector.shouldSend(second, sent, clock.now)).toBe(false);
    expect(collector.shouldSend(second, sent, new Date(sent.at.getTime() + 10 * 60_000))).toBe(true);
  });

  it("adds nothing twice when a restarted agent re-reads the kernel buffer", async () => {
    const m = await machine({ kmsg: kmsgLines(XID_SEQ[48], XID_SEQ[79], XID_SEQ.sxidFatal) });
    const first = await m.collector.collect();
    expect(await eventLines(m.paths.dataDir)).toHaveLength(3);
    const restarted = m.make();
    const again = await restarted.collect();
    expect(await eventLines(m.paths.dataDir)).toHaveLength(3);
    expect(again.events.map((e) => e.id)).toEqual(first.events.map((e) => e.id)); // not sent yet: still due
    await restarted.markSent(again);
    expect((await m.make().collect()).events).toEqual([]);
  });

  it("clears a reboot-fixable Xid after a reboot, keeps HARDWARE_INSPECTION, and records the reboot", async () => {
    const m = await machine({ kmsg: kmsgLines(XID_SEQ[79], XID_SEQ.sxidFatal) });
    const before = await m.collector.collect();
    expect(before.gpus[6]?.health).toBe("Unhealthy");
    await m.collector.markSent(before);

    const btime2 = BTIME + 7200;
    await m.boot(BOOT_2, btime2);
    await writeFile(m.paths.kmsgPath, ""); // a new boot's ring buffer
    m.clock.now = at(3600, btime2);
    const after = await m.collector.collect();
    expect(after.bootId).toBe(BOOT_2);
    expect(after.events).toEqual([
      expect.objectContaining({
        id: `${BOOT_2}:reboot`,
        component: "os",
        name: "reboot",
        time: at(0, btime2).toISOString(),
      }),
    ]);
    expect(after.gpus[6]?.health).toBe("Healthy");
    expect(component(after, "error-xid")[0]?.reason).toBe("XIDComponent is healthy");
    expect(component(after, "error-sxid")[0]).toMatchObject({
      health: "Unhealthy",
      suggested_actions: { repair_actions: ["HARDWARE_INSPECTION"] },
    });
  });

  it("reads non-healthy states as Initializing within 5 minutes of boot", async () => {
    const xid =
      "3,5000,60000000,-;NVRM: Xid (PCI:0000:ba:00): 79, pid='<unknown>', name=<unknown>, GPU has fallen off the bus.\n";
    const m = await machine({ kmsg: xid });
    m.clock.now = at(120);
    const early = await m.collector.collect();
    expect(component(early, "error-xid")[0]).toMatchObject({
      health: "Initializing",
      reason: expect.stringMatching(/^XID 79 /),
    });
    expect(early.gpus[6]?.health).toBe("Initializing");
    expect(component(early, "ecc").every((s) => s.health === "Healthy")).toBe(true);
    m.clock.now = at(301);
    expect((await m.collector.collect()).gpus[6]?.health).toBe("Unhealthy");
  });

  it("reads Xid and SXid as Initializing when no kernel log can be read", async () => {
    const m = await machine({ kmsgPath: "/nonexistent/kmsg" });
    const report = await m.collector.collect();
    for (const c of ["error-xid", "error-sxid"]) {
      expect(component(report, c)).toEqual([
        expect.objectContaining({ health: "Initializing", reason: KERNEL_UNREADABLE }),
      ]);
    }
    expect(HealthReport.parse(report)).toBeTruthy();
  });

  it("falls back to the journal when /dev/kmsg cannot be opened, and continues after its cursor", async () => {
    const m = await machine({
      kmsgPath: "/nonexistent/kmsg",
      fake: { journal: { code: 0, stdout: fixture("journal-k.jsonl") } },
    });
    const report = await m.collector.collect();
    expect(report.gpus[6]?.health).toBe("Unhealthy");
    expect(report.events).toHaveLength(2);
    await m.collector.collect();
    const journalCalls = m.run.calls.filter((c) => c[0] === "journalctl");
    expect(journalCalls[1]?.at(-1)).toMatch(/^--after-cursor=s=8f3e.*;i=1a2c1;/);
  });

  it("makes every nvidia-smi component Unhealthy with REBOOT_SYSTEM when the GPU is lost", async () => {
    const lost = { code: 255, stdout: fixture("gpu-lost.txt") };
    const m = await machine({ kmsg: kmsgLines(XID_SEQ[79]), fake: { health: lost } });
    const report = await m.collector.collect();
    const smi = report.states.filter((c) => !c.component.includes("error-")).flatMap((c) => c.states);
    expect(smi).toHaveLength(10);
    for (const s of smi) {
      expect(s).toMatchObject({
        health: "Unhealthy",
        suggested_actions: { repair_actions: ["REBOOT_SYSTEM"] },
      });
      expect(s.reason).toContain("GPU is lost");
    }
    expect(HealthReport.parse(report)).toBeTruthy();
  });

  it("remembers the GPUs while nvidia-smi fails, and reads a hang as a lost GPU", async () => {
    let health: FakeMachine["health"] = { code: 0, stdout: fixture("health-ok.csv") };
    const m = await machine({
      kmsg: kmsgLines(XID_SEQ[79]),
      smiTimeoutMs: 5,
      fake: { health: (a) => (typeof health === "function" ? health(a) : health!) },
    });
    await m.collector.collect();
    health = "hang";
    const report = await m.collector.collect();
    expect(component(report, "ecc")[0]?.reason).toBe("nvidia-smi did not answer in 5 ms");
    expect(report.gpus).toHaveLength(8);
    expect(report.gpus[6]).toMatchObject({ uuid: uuidOf(6), health: "Unhealthy" });
  });

  it("flags a short GPU count, when an expected count is set", async () => {
    const m = await machine({
      expectedGpus: 8,
      fake: { health: { code: 0, stdout: fixture("health-missing-gpu.csv") } },
    });
    const report = await m.collector.collect();
    expect(component(report, "gpu-counts")[0]).toMatchObject({
      health: "Unhealthy",
      reason: "nvidia gpu count mismatch (found 7, expected 8)",
    });
    expect(report.gpus).toHaveLength(7);
    expect(report.events.map((e) => e.name)).toEqual(["gpu_count_mismatch"]);
  });

  it("checks the fabric manager on an NVSwitch system only, as a device-wide state", async () => {
    const m = await machine({
      devices: ["nvidia-nvswitch0"],
      fake: { systemctl: { code: 3, stdout: "inactive\n" } },
    });
    const report = await m.collector.collect();
    expect(component(report, "fabric-manager")[0]).toMatchObject({ health: "Unhealthy" });
    expect(component(report, "fabric-manager")[0]?.reason).toContain("fabric manager found but not active");
    expect(report.gpus.every((g) => g.health === "Healthy")).toBe(true);
  });

  it("keeps events 3 days", async () => {
    const m = await machine({ kmsg: kmsgLines(XID_SEQ[79]) });
    await m.collector.collect();
    m.clock.now = at(4 * 24 * 3600);
    const report = await m.collector.collect();
    expect(await eventLines(m.paths.dataDir)).toEqual([]);
    expect(report.gpus[6]?.health).toBe("Healthy");
  });
});

describe("HealthCollector.setHealthy", () => {
  it("purges the component's events at or before issuedAt; a newer Xid survives, also across a restart", async () => {
    const m = await machine({ kmsg: kmsgLines(XID_SEQ[48], XID_SEQ[79]) }); // at boot + 700.5 s and + 750 s
    const before = await m.collector.collect();
    expect(before.gpus.filter((g) => g.health === "Unhealthy").map((g) => g.index)).toEqual([2, 6]);
    await m.collector.markSent(before);

    await m.collector.setHealthy(["accelerator-nvidia-error-xid"], at(720));
    const after = await m.collector.collect();
    expect(after.gpus.filter((g) => g.health === "Unhealthy").map((g) => g.index)).toEqual([6]);
    expect(m.collector.shouldSend(after, { report: before, at: m.clock.now }, m.clock.now)).toBe(true);
    await m.collector.markSent(after);

    const restarted = await m.make().collect();
    expect(restarted.gpus.filter((g) => g.health === "Unhealthy").map((g) => g.index)).toEqual([6]);
    expect(await eventLines(m.paths.dataDir)).toHaveLength(1);
  });

  it("purges every settable component when none is named, and leaves others' events", async () => {
    const m = await machine({ kmsg: kmsgLines(XID_SEQ[79], XID_SEQ.sxidFatal) });
    await m.collector.collect();
    await m.collector.setHealthy(["accelerator-nvidia-temperature"], m.clock.now);
    expect(await eventLines(m.paths.dataDir)).toHaveLength(2);
    await m.collector.setHealthy(undefined, m.clock.now);
    const report = await m.collector.collect();
    expect(component(report, "error-xid")[0]?.health).toBe("Healthy");
    expect(component(report, "error-sxid")[0]?.health).toBe("Healthy");
  });
});
