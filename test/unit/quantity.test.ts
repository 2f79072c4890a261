import { describe, expect, it } from "vitest";
import { parseGpuCount, parseQuantity } from "../../shared/domain/quantity.ts";

describe("parseQuantity", () => {
  it.each([
    ["8", 8],
    ["7500m", 7.5],
    ["64Gi", 64 * 2 ** 30],
    ["512Mi", 512 * 2 ** 20],
    ["1.5G", 1.5e9],
    ["100k", 100_000],
    ["1e3", 1000],
    [".5", 0.5],
  ])("reads %s as %d", (text, value) => {
    expect(parseQuantity(text)).toBeCloseTo(value);
  });

  it.each(["", "lots", "-1", "8 cores", "1Xi", "Gi"])("refuses %j", (text) => {
    expect(parseQuantity(text)).toBeUndefined();
  });
});

describe("parseGpuCount", () => {
  it.each([
    ["0", 0],
    ["8", 8],
  ])("reads %s", (text, n) => {
    expect(parseGpuCount(text)).toBe(n);
  });

  it.each(["two", "1.5", "-1", "", "2Gi", "1e1"])("refuses %j", (text) => {
    expect(parseGpuCount(text)).toBeUndefined();
  });
});
