import { describe, expect, it } from "vitest";
import { labelsMatch, normalizeLabels, toGpudLabels } from "../../shared/domain/labels.ts";

const P = "user.node.lepton.ai/";

describe("normalizeLabels", () => {
  it("stores names without the managed prefix and accepts both forms", () => {
    expect(normalizeLabels({ [`${P}gpu`]: "a100", zone: "rack-4" })).toEqual({
      ok: true,
      labels: { gpu: "a100", zone: "rack-4" },
    });
  });

  it("round-trips GPUd's form", () => {
    const check = normalizeLabels({ [`${P}gpu`]: "a100" });
    expect(check.ok && toGpudLabels(check.labels)).toEqual({ [`${P}gpu`]: "a100" });
  });

  it("allows an empty value", () => {
    expect(normalizeLabels({ spare: "" })).toEqual({ ok: true, labels: { spare: "" } });
  });

  it("accepts {} (clear all labels)", () => {
    expect(normalizeLabels({})).toEqual({ ok: true, labels: {} });
  });

  it.each([
    [{ gpu: "a", [`${P}gpu`]: "b" }, "both normalise to"],
    [Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`k${i}`, "v"])), "at most 8 labels"],
    [{ ["a".repeat(64)]: "v" }, "1-63 characters"],
    [{ "example.com/gpu": "v" }, "may only use the prefix"],
    [{ [`${P}a/b`]: "v" }, "may only use the prefix"],
    [{ "-gpu": "v" }, "must start and end with a letter or digit"],
    [{ "gpu type": "v" }, "must start and end"],
    [{ gpu: "x".repeat(64) }, "value over 63 characters"],
    [{ gpu: "a100!" }, "must be empty or start and end"],
    [{ gpu: 5 }, "string value"],
    [{ [P]: "v" }, "1-63 characters"],
  ])("refuses %o (%s)", (input, message) => {
    const check = normalizeLabels(input as Record<string, unknown>);
    expect(check.ok).toBe(false);
    expect(!check.ok && check.error).toContain(message);
  });

  it("accepts exactly 8 labels and 63-character names and values", () => {
    const eight = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`k${i}`, "v"]));
    expect(normalizeLabels(eight).ok).toBe(true);
    expect(normalizeLabels({ ["a".repeat(63)]: "b".repeat(63) }).ok).toBe(true);
  });
});

describe("labelsMatch", () => {
  it("requires every pair of the selector", () => {
    expect(labelsMatch({ gpu: "a100", zone: "r1" }, { gpu: "a100" })).toBe(true);
    expect(labelsMatch({ gpu: "a100" }, { gpu: "a100", zone: "r1" })).toBe(false);
    expect(labelsMatch({ gpu: "h100" }, { gpu: "a100" })).toBe(false);
  });
});
