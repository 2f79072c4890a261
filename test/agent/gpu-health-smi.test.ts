import { describe, expect, it } from "vitest";
import {
  fabricManagerState,
  failedStates,
  gpuCountsState,
  nvlinkState,
} from "../../agent/health/device-checks.ts";
import type { StoredEvent } from "../../agent/health/events.ts";
import {
  HEALTH_QUERY_FIELDS,
  parseHealthCsv,
  parseRemappedRows,
  probeHealthFields,
  rejectedField,
  runSmi,
  smiFailure,
} from "../../agent/health/smi.ts";
import {
  eccStates,
  hwSlowdownStates,
  persistenceModeStates,
  remappedRowsStates,
  SlowdownHistory,
  temperatureStates,
} from "../../agent/health/smi-evaluators.ts";
import { parseFabricQuery, parseNvlinkStatus, parseTemperatureQuery } from "../../agent/health/smi-text.ts";
import { fakeRunner, fixture, uuidOf } from "./gpu-health-fixtures.ts";

const AT = "2025-03-04T11:00:00.000Z";
const samples = (name: string) => parseHealthCsv(fixture(name), HEALTH_QUERY_FIELDS);
const unhealthy = (states: { health: string; extra_info?: Record<string, string> }[]) =>
  states.filter((s) => s.health !== "Healthy").map((s) => [s.extra_info?.gpu_index, s.health]);

describe("parseHealthCsv", () => {
  it("reads every health field of every GPU", () => {
    const [gpu0] = samples("health-ok.csv");
    expect(gpu0).toEqual({
      index: 0,
      uuid: uuidOf(0),
      busId: "00000000:18:00.0",
      persistenceMode: true,
      temperatureGpu: 34,
      temperatureMemory: 42,
      temperatureTlimit: 53,
      hwSlowdown: false,
      hwThermalSlowdown: false,
      hwPowerBrakeSlowdown: false,
      eccMode: "Enabled",
      eccCorrectedVolatile: 0,
      eccUncorrectedVolatile: 0,
      eccUncorrectedAggregate: 0,
      retiredPagesPending: undefined,
      powerDraw: 70,
      powerLimit: 700,
      clocksSm: 1980,
      clocksMem: 2619,
    });
    expect(samples("health-ok.csv")).toHaveLength(8);
  });

  it("reads an older driver's throttle-reason fields and a GPU reported lost", () => {
    const fields = HEALTH_QUERY_FIELDS.filter((f) => f !== "temperature.gpu.tlimit").map((f) =>
      f.replace("clocks_event_reasons", "clocks_throttle_reasons"),
    );
    const [ok, lost] = parseHealthCsv(fixture("health-legacy-lost.csv"), fields);
    expect(ok).toMatchObject({ hwSlowdown: false, retiredPagesPending: false, powerDraw: 60.1 });
    expect(ok!.temperatureTlimit).toBeUndefined();
    expect(lost).toMatchObject({ index: 1, uuid: uuidOf(1), lost: "GPU is lost", temperatureGpu: undefined });
  });

  it("reads values with units too (a query without nounits)", () => {
    const [s] = parseHealthCsv("0, GPU-x, 00000000:18:00.0, 71.52 W, 700.00 W", [
      "index",
      "uuid",
      "pci.bus_id",
      "power.draw",
      "power.limit",
    ]);
    expect(s).toMatchObject({ powerDraw: 71.52, powerLimit: 700 });
  });
});

describe("probeHealthFields", () => {
  it("drops a field the driver rejects, and falls back to clocks_throttle_reasons.*", async () => {
    const run = fakeRunner({
      health: (args) => {
        if (args[0]!.includes("temperature.gpu.tlimit"))
          return { code: 2, stdout: fixture("invalid-field.txt") };
        if (args[0]!.includes("clocks_event_reasons"))
          return { code: 2, stdout: fixture("invalid-field-event-reasons.txt") };
        return { code: 0, stdout: fixture("health-legacy-lost.csv") };
      },
    });
    const probed = await probeHealthFields(run);
    if (!("fields" in probed)) throw new Error(probed.failure.reason);
    expect(probed.fields).not.toContain("temperature.gpu.tlimit");
    expect(probed.fields).toContain("clocks_throttle_reasons.hw_slowdown");
    expect(probed.fields).not.toContain("clocks_event_reasons.hw_slowdown");
    expect(parseHealthCsv(probed.stdout, probed.fields)[0]?.temperatureGpu).toBe(31);
  });

  it("fails as the query fails for any other reason", async () => {
    const probed = await probeHealthFields(
      fakeRunner({ health: { code: 255, stdout: fixture("gpu-lost.txt") } }),
    );
    expect(probed).toEqual({ failure: { reason: expect.stringContaining("GPU is lost"), lost: true } });
  });

  it("names the rejected field", () => {
    expect(rejectedField(fixture("invalid-field.txt"))).toBe("temperature.gpu.tlimit");
    expect(rejectedField("ok")).toBeUndefined();
  });
});

describe("runSmi", () => {
  it("reads 'GPU is lost' and 'Unable to determine the device handle' as a lost GPU", () => {
    expect(smiFailure({ code: 255, stdout: fixture("gpu-lost.txt"), stderr: "" })).toEqual({
      reason: `nvidia-smi failed: ${fixture("gpu-lost.txt").trim()}`,
      lost: true,
    });
    expect(
      smiFailure({
        code: 9,
        stdout: "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.",
        stderr: "",
      }),
    ).toMatchObject({ lost: false });
    expect(smiFailure({ code: 0, stdout: "", stderr: "" })).toBeUndefined();
  });

  it("counts a hung nvidia-smi as a lost GPU", async () => {
    const out = await runSmi(fakeRunner({ health: "hang" }), ["--query-gpu=index"], 5);
    expect(out).toMatchObject({
      ok: false,
      failure: { lost: true, reason: expect.stringContaining("did not answer") },
    });
  });

  it("counts a missing nvidia-smi as a failure", async () => {
    expect(await runSmi(fakeRunner({ health: "missing" }), ["--query-gpu=index"])).toMatchObject({
      ok: false,
    });
  });
});

describe("remappedRowsStates", () => {
  const ok = samples("health-ok.csv");

  it("is Healthy without pending or failed remapping", () => {
    expect(unhealthy(remappedRowsStates(ok, parseRemappedRows(fixture("remapped-rows-ok.csv")), AT))).toEqual(
      [],
    );
  });

  it("makes a GPU with pending remapping Unhealthy with REBOOT_SYSTEM", () => {
    const states = remappedRowsStates(ok, parseRemappedRows(fixture("remapped-rows-pending.csv")), AT);
    expect(unhealthy(states)).toEqual([["3", "Unhealthy"]]);
    expect(states[3]).toMatchObject({
      reason: "00000000:5D:00.0 needs reset (detected pending row remapping)",
      suggested_actions: { repair_actions: ["REBOOT_SYSTEM"] },
    });
  });

  it("lets a failed remapping win with HARDWARE_INSPECTION", () => {
    const states = remappedRowsStates(ok, parseRemappedRows(fixture("remapped-rows-failure.csv")), AT);
    expect(unhealthy(states)).toEqual([["4", "Unhealthy"]]);
    expect(states[4]?.suggested_actions?.repair_actions).toEqual(["HARDWARE_INSPECTION"]);
    expect(states[4]?.reason).toContain(
      "qualifies for RMA (row remapping failed, remapped due to 9 uncorrectable error(s))",
    );
  });

  it("reads Yes/No as well as 1/0, and falls back to retired_pages.pending without a row remapper", () => {
    expect(parseRemappedRows("00000000:18:00.0, 0, 0, Yes, No")[0]).toMatchObject({
      pending: true,
      failure: false,
    });
    const old = [{ ...ok[0]!, retiredPagesPending: true }];
    expect(remappedRowsStates(old, undefined, AT)[0]).toMatchObject({
      health: "Unhealthy",
      reason: "00000000:18:00.0 needs reset (detected pending page retirement)",
    });
  });
});

describe("hwSlowdownStates", () => {
  const slow = samples("health-hw-slowdown.csv");
  const minute = (m: number) => new Date(Date.parse(AT) + m * 60_000);

  it("makes a GPU Unhealthy with HARDWARE_INSPECTION once 6 of the last 10 minutes saw a HW slowdown", () => {
    const history = new SlowdownHistory();
    for (let m = 0; m < 5; m++) history.record(slow, minute(m));
    expect(unhealthy(hwSlowdownStates(slow, history, minute(4)))).toEqual([]);
    history.record(slow, minute(5));
    const states = hwSlowdownStates(slow, history, minute(5));
    expect(unhealthy(states)).toEqual([["2", "Unhealthy"]]);
    expect(states[2]).toMatchObject({
      suggested_actions: { repair_actions: ["HARDWARE_INSPECTION"] },
      extra_info: { slowdown_minutes: "6", frequency_per_minute: "0.60", hw_thermal_slowdown: "true" },
    });
  });

  it("counts a minute once and forgets what left the window or was set healthy", () => {
    const history = new SlowdownHistory();
    for (let m = 0; m < 6; m++) {
      history.record(slow, minute(m));
      history.record(slow, new Date(minute(m).getTime() + 10_000));
    }
    expect(unhealthy(hwSlowdownStates(slow, history, minute(5)))).toHaveLength(1);
    expect(unhealthy(hwSlowdownStates(slow, history, minute(11)))).toEqual([]);
    history.forget(minute(5));
    expect(unhealthy(hwSlowdownStates(slow, history, minute(5)))).toEqual([]);
  });
});

describe("temperatureStates", () => {
  it("makes a GPU past its max operating temperatures Degraded", () => {
    const states = temperatureStates(
      samples("health-hot.csv"),
      parseTemperatureQuery(fixture("temperature.txt")),
      AT,
    );
    expect(unhealthy(states)).toEqual([["5", "Degraded"]]);
    expect(states[5]?.reason).toBe(
      `GPU temperature anomalies detected: ${uuidOf(5)} temperature is exceeding the threshold 85 °C, ${uuidOf(5)} HBM temperature is exceeding the threshold 95 °C`,
    );
    expect(states[5]?.extra_info).toMatchObject({ temperature_gpu: "91", temperature_memory: "97" });
    expect(
      unhealthy(
        temperatureStates(samples("health-ok.csv"), parseTemperatureQuery(fixture("temperature.txt")), AT),
      ),
    ).toEqual([]);
  });

  it("reads R535+'s T.Limit-relative limit, and a slowdown margin threshold when set", () => {
    const limits = parseTemperatureQuery(fixture("temperature-tlimit.txt"));
    expect([...limits.values()][0]).toEqual({ gpuMaxOperatingTlimit: 0 });
    const hot = [{ ...samples("health-ok.csv")[0]!, temperatureTlimit: -3 }];
    expect(temperatureStates(hot, limits, AT)[0]?.health).toBe("Degraded");
    const close = [{ ...samples("health-ok.csv")[0]!, temperatureTlimit: 4 }];
    expect(temperatureStates(close, limits, AT)[0]?.health).toBe("Healthy");
    expect(temperatureStates(close, limits, AT, 5)[0]?.health).toBe("Degraded");
  });
});

describe("persistenceModeStates", () => {
  it("makes each GPU with persistence mode off Unhealthy", () => {
    const states = persistenceModeStates(samples("health-persistence-off.csv"), AT);
    expect(unhealthy(states)).toEqual([
      ["1", "Unhealthy"],
      ["6", "Unhealthy"],
    ]);
    expect(states[1]?.reason).toBe(`${uuidOf(1)} persistence mode supported but not enabled`);
  });
});

describe("per-GPU evaluators", () => {
  it("report metrics in extra_info and read a lost GPU as Unhealthy with REBOOT_SYSTEM", () => {
    expect(eccStates(samples("health-ok.csv"), AT)[0]).toMatchObject({
      health: "Healthy",
      extra_info: { gpu_uuid: uuidOf(0), gpu_index: "0", ecc_mode: "Enabled", uncorrected_volatile: "0" },
    });
    const fields = HEALTH_QUERY_FIELDS.filter((f) => f !== "temperature.gpu.tlimit");
    const lost = parseHealthCsv(fixture("health-legacy-lost.csv"), fields);
    expect(eccStates(lost, AT).map((s) => [s.health, s.suggested_actions?.repair_actions])).toEqual([
      ["Healthy", undefined],
      ["Unhealthy", ["REBOOT_SYSTEM"]],
    ]);
  });
});

describe("gpuCountsState", () => {
  const mismatch = (time: string): StoredEvent => ({
    id: time,
    component: "accelerator-nvidia-gpu-counts",
    time,
    name: "gpu_count_mismatch",
    type: "Warning",
    message: "",
  });
  const reboot = (time: string): StoredEvent => ({
    id: time,
    component: "os",
    time,
    name: "reboot",
    type: "Warning",
    message: "",
  });

  it("is skipped without an expected count, Healthy on a match, Unhealthy on a short count", () => {
    expect(gpuCountsState(7, undefined, [], AT)).toMatchObject({
      health: "Healthy",
      reason: "GPU count thresholds not set, skipping",
    });
    expect(gpuCountsState(8, 8, [], AT).health).toBe("Healthy");
    expect(gpuCountsState(samples("health-missing-gpu.csv").length, 8, [], AT)).toMatchObject({
      health: "Unhealthy",
      reason: "nvidia gpu count mismatch (found 7, expected 8)",
      suggested_actions: { repair_actions: ["REBOOT_SYSTEM"] },
    });
  });

  it("suggests HARDWARE_INSPECTION once the count stayed short across 2 reboots", () => {
    const history = [
      mismatch("2025-03-04T01:00:00Z"),
      reboot("2025-03-04T02:00:00Z"),
      mismatch("2025-03-04T02:01:00Z"),
    ];
    expect(gpuCountsState(7, 8, history, AT).suggested_actions?.repair_actions).toEqual(["REBOOT_SYSTEM"]);
    history.push(reboot("2025-03-04T03:00:00Z"), mismatch("2025-03-04T03:01:00Z"));
    expect(gpuCountsState(7, 8, history, AT).suggested_actions?.repair_actions).toEqual([
      "HARDWARE_INSPECTION",
    ]);
  });
});

describe("nvlinkState", () => {
  it("is skipped at threshold 0", () => {
    expect(nvlinkState(0, undefined, AT)).toMatchObject({
      health: "Healthy",
      reason: "nvlink threshold not set (skipped evaluation)",
    });
  });

  it("counts GPUs with every link up against the threshold", () => {
    const all = parseNvlinkStatus(fixture("nvlink-status.txt"));
    expect(all.gpus).toHaveLength(8);
    expect(all.gpus[0]).toMatchObject({ index: 0, uuid: uuidOf(0) });
    expect(all.gpus[0]?.links).toHaveLength(18);
    expect(nvlinkState(8, all, AT).health).toBe("Healthy");
    const inactive = nvlinkState(8, parseNvlinkStatus(fixture("nvlink-status-inactive.txt")), AT);
    expect(inactive).toMatchObject({
      health: "Unhealthy",
      reason: `nvlink threshold violated: require >=8 GPUs with all links active; got 7 (inactive nvlinks=${uuidOf(7)})`,
      suggested_actions: { repair_actions: ["REBOOT_SYSTEM"] },
    });
    expect(nvlinkState(7, parseNvlinkStatus(fixture("nvlink-status-inactive.txt")), AT).health).toBe(
      "Healthy",
    );
  });

  it("reads 'all links are inActive' as no GPU up", () => {
    const status = parseNvlinkStatus("Unable to retrieve NVLink information as all links are inActive\n");
    expect(nvlinkState(1, status, AT).health).toBe("Unhealthy");
  });
});

describe("fabricManagerState", () => {
  const fabric = parseFabricQuery(fixture("smi-q-fabric.txt"));

  it("reads each GPU's fabric state", () => {
    expect(fabric).toEqual([
      { busId: "00000000:18:00.0", state: "Completed", status: "Success" },
      { busId: "00000000:2A:00.0", state: "In Progress", status: "N/A" },
    ]);
  });

  it("checks only NVSwitch systems: the service active and every fabric state completed", () => {
    expect(fabricManagerState({ nvswitch: false, fabric }, AT).health).toBe("Healthy");
    expect(
      fabricManagerState({ nvswitch: true, active: true, fabric: fabric.slice(0, 1) }, AT),
    ).toMatchObject({
      health: "Healthy",
      reason: "fabric manager found and active",
    });
    expect(fabricManagerState({ nvswitch: true, active: false, fabric: [] }, AT)).toMatchObject({
      health: "Unhealthy",
      reason: "fabric manager found but not active",
    });
    expect(fabricManagerState({ nvswitch: true, active: true, fabric }, AT)).toMatchObject({
      health: "Unhealthy",
      reason: "unhealthy fabric state: 00000000:2A:00.0 fabric state In Progress, status N/A",
    });
  });
});

describe("failedStates", () => {
  it("makes every nvidia-smi component Unhealthy, with REBOOT_SYSTEM when the GPU is lost", () => {
    const states = failedStates({ reason: "nvidia-smi failed: GPU is lost", lost: true }, AT);
    expect(states).toHaveLength(10);
    expect(
      states.every(
        (s) => s.health === "Unhealthy" && s.suggested_actions?.repair_actions[0] === "REBOOT_SYSTEM",
      ),
    ).toBe(true);
    expect(
      failedStates({ reason: "nvidia-smi failed: driver", lost: false }, AT)[0]?.suggested_actions,
    ).toBeUndefined();
  });
});
