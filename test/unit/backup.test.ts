import { describe, expect, it } from "vitest";
import { fromVersion1 } from "../../hosts/backup.ts";

describe("fromVersion1", () => {
  it("moves a 0.1 feed head into the feed's partition, with an item per unacknowledged removal", () => {
    expect(fromVersion1({ pk: "DEVICE#d1", sk: "FEED", seq: 7, removals: new Set(["r1", "r2"]) })).toEqual([
      { pk: "FEED#d1", sk: "HEAD", seq: 7 },
      { pk: "FEED#d1", sk: "RM#r1", reservationId: "r1", seq: 0 },
      { pk: "FEED#d1", sk: "RM#r2", reservationId: "r2", seq: 0 },
    ]);
  });

  it("splits a 0.1 device into the device, its presence and its machine info", () => {
    const out = fromVersion1({
      pk: "DEVICE#d1",
      sk: "DEVICE",
      id: "d1",
      lastSeenAt: "t",
      machineInfo: { a: 1 },
    });
    expect(out).toEqual([
      { pk: "DEVICE#d1", sk: "DEVICE", id: "d1" },
      { pk: "DEVICE#d1", sk: "SEEN", lastSeenAt: "t" },
      { pk: "DEVICE#d1", sk: "MACHINEINFO", machineInfo: { a: 1 } },
    ]);
  });

  it("keeps every other item as it is (an item already in this version's model too)", () => {
    const job = { pk: "JOB#j", sk: "JOB", id: "j" };
    expect(fromVersion1(job)).toEqual([job]);
    expect(fromVersion1({ pk: "DEVICE#d1", sk: "DEVICE", id: "d1" })).toEqual([
      { pk: "DEVICE#d1", sk: "DEVICE", id: "d1" },
    ]);
  });
});
