import { describe, expect, it } from "vitest";
import {
  DEFAULT_XID_REBOOT_THRESHOLD,
  XID_CATALOG,
  XidDetail,
  xidDetail,
  xidTreatment,
} from "../../shared/domain/xid-catalog.ts";

describe("XID_CATALOG", () => {
  it("holds GPUd's 172 codes, sorted, each once: 122 Warning, 43 Fatal, 7 Info", () => {
    expect(XID_CATALOG).toHaveLength(172);
    const codes = XID_CATALOG.map((d) => d.code);
    expect(codes).toEqual([...codes].sort((a, b) => a - b));
    expect(new Set(codes).size).toBe(172);
    const count = (type: string) => XID_CATALOG.filter((d) => d.type === type).length;
    expect([count("Warning"), count("Fatal"), count("Info"), count("Critical")]).toEqual([122, 43, 7, 0]);
  });

  it("parses with the API schema", () => {
    for (const d of XID_CATALOG) expect(XidDetail.parse(d)).toEqual(d);
  });

  it("has the spec's selected entries", () => {
    const row = (code: number) => {
      const d = xidDetail(code)!;
      return [d.description, d.type, d.repairActions];
    };
    expect(row(13)).toEqual(["Graphics Engine Exception", "Warning", ["CHECK_USER_APP_AND_GPU"]]);
    expect(row(31)).toEqual([
      "GPU memory page fault",
      "Warning",
      ["CHECK_USER_APP_AND_GPU", "HARDWARE_INSPECTION"],
    ]);
    expect(row(43)).toEqual(["GPU stopped processing", "Warning", ["CHECK_USER_APP_AND_GPU"]]);
    expect(row(45)[1]).toBe("Warning");
    expect(row(45)[2]).toEqual(["IGNORE_NO_ACTION_REQUIRED"]);
    expect(row(48)).toEqual(["Double Bit ECC Error", "Fatal", ["REBOOT_SYSTEM", "HARDWARE_INSPECTION"]]);
    expect(row(79)).toEqual([
      "GPU has fallen off the bus",
      "Fatal",
      ["REBOOT_SYSTEM", "HARDWARE_INSPECTION"],
    ]);
    expect(row(92)).toEqual(["High single-bit ECC error rate", "Warning", ["IGNORE_NO_ACTION_REQUIRED"]]);
    expect(row(94)).toEqual(["Contained ECC error", "Fatal", ["REBOOT_SYSTEM", "IGNORE_NO_ACTION_REQUIRED"]]);
    expect(row(95)).toEqual(["Uncontained ECC error", "Fatal", ["REBOOT_SYSTEM", "HARDWARE_INSPECTION"]]);
    expect(row(143)).toEqual(["GPU Initialization Failure", "Fatal", ["HARDWARE_INSPECTION"]]);
    for (const code of [144, 145, 146, 147, 148, 149, 150])
      expect(row(code).slice(1)).toEqual(["Warning", ["REBOOT_SYSTEM"]]);
    expect(xidDetail(79)?.mnemonic).toBe("ROBUST_CHANNEL_GPU_HAS_FALLEN_OFF_THE_BUS");
  });

  it("gives Xid 94 a reboot threshold of 1000 and every other code the default 2", () => {
    expect(xidDetail(94)?.rebootThreshold).toBe(1000);
    expect(DEFAULT_XID_REBOOT_THRESHOLD).toBe(2);
    expect(XID_CATALOG.filter((d) => d.code !== 94).every((d) => d.rebootThreshold === 2)).toBe(true);
  });
});

describe("xidDetail", () => {
  it("answers undefined for a code GPUd does not list", () => {
    expect(xidDetail(133)).toBeUndefined();
    expect(xidDetail(999)).toBeUndefined();
  });
});

describe("xidTreatment", () => {
  it("treats an unknown code as a Warning with no actions, so it never makes a GPU Unhealthy", () => {
    expect(xidTreatment(999)).toMatchObject({ code: 999, type: "Warning", repairActions: [] });
    expect(xidTreatment(79)).toBe(xidDetail(79));
  });
});
