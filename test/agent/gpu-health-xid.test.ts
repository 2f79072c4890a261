import { describe, expect, it } from "vitest";
import type { StoredEvent } from "../../agent/health/events.ts";
import { type KernelRecord, kernelEvents } from "../../agent/health/kmsg.ts";
import { evolveHealthyStateWithThresholds, sxidStates, xidStates } from "../../agent/health/xid.ts";
import type { HealthState } from "../../shared/domain/gpu-health.ts";
import { GPUS, KMSG, uuidOf, XID_SEQ } from "./gpu-health-fixtures.ts";

const AT = "2025-03-06T12:00:00.000Z";
const bootMs = (n: number) => Date.parse("2025-03-04T00:00:00Z") + n * 3600_000;

/** Boot `n` of a machine, one hour after the last: its reboot event (none for boot 0). */
const reboot = (n: number): StoredEvent => ({
  id: `boot-${n}:reboot`,
  component: "os",
  time: new Date(bootMs(n)).toISOString(),
  name: "reboot",
  type: "Warning",
  message: "system reboot detected",
});

/** The fixture's kernel record `seq`, as logged in boot `n`. */
const logged = (seq: number, n: number, copy = 0): StoredEvent[] => {
  const record: KernelRecord = { ...KMSG.get(seq)!, key: `${seq}.${copy}` };
  return kernelEvents([record], { bootId: `boot-${n}`, bootTimeMs: bootMs(n) + copy * 1000, gpus: GPUS });
};

const forGpu = (states: HealthState[], index: number) =>
  states.find((s) => s.extra_info?.gpu_uuid === uuidOf(index));

describe("xidStates", () => {
  it("makes a GPU with a Fatal Xid Unhealthy, with GPUd's reason and first repair action", () => {
    const states = xidStates(logged(XID_SEQ[79], 0), GPUS, AT);
    expect(states).toEqual([
      {
        time: AT,
        component: "accelerator-nvidia-error-xid",
        name: "error_xid",
        health: "Unhealthy",
        reason: `XID 79 (GPU has fallen off the bus) detected on GPU ${uuidOf(6)}`,
        suggested_actions: { repair_actions: ["REBOOT_SYSTEM"] },
        extra_info: { gpu_uuid: uuidOf(6), gpu_index: "6", pci_bus_id: "00000000:BA:00.0", code: "79" },
      },
    ]);
  });

  it("leaves GPUs with application Xids 13, 31, 43 and 45 Healthy, their reason and action shown", () => {
    const events = [XID_SEQ[13], XID_SEQ[31], XID_SEQ[43], XID_SEQ[45]].flatMap((seq) => logged(seq, 0));
    const states = xidStates(events, GPUS, AT);
    expect(states.every((s) => s.health === "Healthy")).toBe(true);
    expect(forGpu(states, 0)).toMatchObject({
      reason: `XID 13 (Graphics Engine Exception) detected on GPU ${uuidOf(0)}`,
      suggested_actions: { repair_actions: ["CHECK_USER_APP_AND_GPU"] },
    });
    // The last of equal level stands; 45's action is GPUd's IGNORE_NO_ACTION_REQUIRED.
    expect(forGpu(states, 1)).toMatchObject({
      suggested_actions: { repair_actions: ["IGNORE_NO_ACTION_REQUIRED"] },
    });
    expect(forGpu(states, 1)?.reason).toMatch(/^XID 45 /);
  });

  it("keeps each GPU's state apart", () => {
    const events = [XID_SEQ[13], XID_SEQ[48], XID_SEQ[63], XID_SEQ[95]].flatMap((seq) => logged(seq, 0));
    const states = xidStates(events, GPUS, AT);
    expect(states.map((s) => [s.extra_info?.gpu_index, s.health])).toEqual([
      ["0", "Healthy"],
      ["2", "Unhealthy"],
      ["3", "Unhealthy"],
      ["5", "Unhealthy"],
    ]);
  });

  it("skips a lower-level Xid after a Fatal one", () => {
    const events = [...logged(XID_SEQ[79], 0), ...logged(XID_SEQ.fallen, 0)];
    // GPU 6: Xid 79, then (200 s later) a Warning on the same GPU, Xid 13 moved to its address.
    const warning: StoredEvent = {
      ...logged(XID_SEQ[13], 0, 200)[0]!,
      gpuUuid: uuidOf(6),
      pci: "PCI:0000:ba:00",
    };
    const states = xidStates([...events, warning], GPUS, AT);
    expect(forGpu(states, 6)).toMatchObject({
      health: "Unhealthy",
      reason: expect.stringMatching(/^XID 79 /),
    });
  });

  it("clears a reboot-fixable Xid at the next reboot", () => {
    const states = xidStates([...logged(XID_SEQ[79], 0), reboot(1)], GPUS, AT);
    expect(states).toEqual([
      expect.objectContaining({ health: "Healthy", reason: "XIDComponent is healthy" }),
    ]);
  });

  it("escalates to HARDWARE_INSPECTION when the Xid returns after 2 reboots, which then survives reboots", () => {
    const once = [...logged(XID_SEQ[79], 0), reboot(1), ...logged(XID_SEQ[79], 1)];
    expect(forGpu(xidStates(once, GPUS, AT), 6)?.suggested_actions?.repair_actions).toEqual([
      "REBOOT_SYSTEM",
    ]);
    const thrice = [...once, reboot(2), ...logged(XID_SEQ[79], 2)];
    expect(forGpu(xidStates(thrice, GPUS, AT), 6)).toMatchObject({
      health: "Unhealthy",
      suggested_actions: { repair_actions: ["HARDWARE_INSPECTION"] },
    });
    expect(forGpu(xidStates([...thrice, reboot(3), reboot(4)], GPUS, AT), 6)).toMatchObject({
      health: "Unhealthy",
      suggested_actions: { repair_actions: ["HARDWARE_INSPECTION"] },
    });
  });

  it("keeps an Xid whose first action is HARDWARE_INSPECTION (143) across reboots", () => {
    const record: KernelRecord = {
      key: "9",
      seq: 9,
      monotonicUs: 1,
      message: "NVRM: Xid (PCI:0000:18:00): 143, GPU init failure",
    };
    const events = [
      ...kernelEvents([record], { bootId: "boot-0", bootTimeMs: bootMs(0), gpus: GPUS }),
      reboot(1),
      reboot(2),
    ];
    expect(forGpu(xidStates(events, GPUS, AT), 0)).toMatchObject({
      health: "Unhealthy",
      suggested_actions: { repair_actions: ["HARDWARE_INSPECTION"] },
    });
  });

  it("lets a reboot clear Xid 94 every time: below its threshold of 1000 it never escalates", () => {
    const events: StoredEvent[] = [];
    for (let n = 0; n < 6; n++) events.push(...(n > 0 ? [reboot(n)] : []), ...logged(XID_SEQ[94], n));
    expect(forGpu(xidStates(events, GPUS, AT), 4)).toMatchObject({
      health: "Unhealthy",
      suggested_actions: { repair_actions: ["REBOOT_SYSTEM"] },
    });
    expect(xidStates([...events, reboot(6)], GPUS, AT)).toEqual([
      expect.objectContaining({ health: "Healthy" }),
    ]);
  });

  it("reports an unknown Xid as Healthy", () => {
    const record: KernelRecord = {
      key: "7",
      seq: 7,
      monotonicUs: 1,
      message: "NVRM: Xid (PCI:0000:18:00): 999, new",
    };
    const events = kernelEvents([record], { bootId: "boot-0", bootTimeMs: bootMs(0), gpus: GPUS });
    expect(events[0]?.type).toBe("Warning");
    expect(forGpu(xidStates(events, GPUS, AT), 0)).toMatchObject({
      health: "Healthy",
      reason: expect.stringMatching(/^XID 999 /),
    });
  });

  it("names only the address of an Xid no GPU answers to", () => {
    const events = kernelEvents([KMSG.get(XID_SEQ[79])!], { bootId: "b", bootTimeMs: bootMs(0), gpus: [] });
    const [state] = xidStates(events, [], AT);
    expect(state?.extra_info).toEqual({ pci_bus_id: "PCI:0000:ba:00", code: "79" });
  });
});

describe("evolveHealthyStateWithThresholds", () => {
  const error = (code: number, type: "Fatal" | "Critical" | "Warning", actions: string[], threshold = 2) => ({
    kind: "error" as const,
    code,
    type,
    repairActions: actions as never,
    rebootThreshold: threshold,
    reason: `XID ${code}`,
  });

  it("reads Critical as Degraded", () => {
    expect(evolveHealthyStateWithThresholds([error(1, "Critical", [])])).toEqual({
      health: "Degraded",
      reason: "XID 1",
      code: 1,
    });
  });

  it("lets a reboot clear a CHECK_USER_APP_AND_GPU action but not an error with no action", () => {
    expect(
      evolveHealthyStateWithThresholds([
        error(13, "Warning", ["CHECK_USER_APP_AND_GPU"]),
        { kind: "reboot" },
      ]),
    ).toEqual({
      health: "Healthy",
    });
    expect(evolveHealthyStateWithThresholds([error(5, "Fatal", []), { kind: "reboot" }])).toMatchObject({
      health: "Unhealthy",
      reason: "XID 5",
    });
  });
});

describe("sxidStates", () => {
  it("makes a Fatal SXid Unhealthy with HARDWARE_INSPECTION, naming the NVSwitch and no GPU", () => {
    const events = [...logged(XID_SEQ.sxidFatal, 0), ...logged(XID_SEQ.sxidNonFatal, 0)];
    const states = sxidStates(events, AT);
    expect(
      states.map((s) => [s.health, s.reason, s.suggested_actions?.repair_actions, s.extra_info?.gpu_uuid]),
    ).toEqual([
      [
        "Unhealthy",
        "SXID 20034 (Fatal) detected on NVSwitch PCI:0000:05:00.0",
        ["HARDWARE_INSPECTION"],
        undefined,
      ],
      ["Healthy", "SXID 12028 (Non-fatal) detected on NVSwitch PCI:0000:08:00.0", undefined, undefined],
    ]);
  });

  it("stays Unhealthy after reboots (HARDWARE_INSPECTION survives them)", () => {
    const states = sxidStates([...logged(XID_SEQ.sxidFatal, 0), reboot(1)], AT);
    expect(states[0]?.health).toBe("Unhealthy");
    expect(sxidStates([], AT)).toEqual([
      expect.objectContaining({ health: "Healthy", reason: "SXIDComponent is healthy" }),
    ]);
  });
});
