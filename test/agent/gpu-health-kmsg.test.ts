import { appendFile, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  KmsgReader,
  kernelEvents,
  matchKernelMessage,
  matchKernelRecords,
  parseJournalLine,
  parseKmsgRecord,
  pciKey,
  readJournal,
} from "../../agent/health/kmsg.ts";
import { fakeRunner, fixture, GPUS, KMSG, kmsgLines, uuidOf, XID_SEQ } from "./gpu-health-fixtures.ts";

const BOOT = {
  bootId: "5f1d2c3b-4a5e-6f70-8192-a3b4c5d6e7f8",
  bootTimeMs: Date.parse("2025-03-04T10:30:00Z"),
};

describe("parseKmsgRecord", () => {
  it("reads sequence, time since boot and message, dropping dictionary lines", () => {
    expect(
      parseKmsgRecord("3,1801,750000000,-;NVRM: Xid (PCI:0000:ba:00): 79, GPU\n SUBSYSTEM=pci\n"),
    ).toEqual({
      key: "1801",
      seq: 1801,
      monotonicUs: 750000000,
      message: "NVRM: Xid (PCI:0000:ba:00): 79, GPU",
    });
  });

  it("unescapes \\xNN, so a multi-line printk reads as lines", () => {
    expect(KMSG.get(XID_SEQ.fallenMultiline)?.message).toContain("0000:db:00.0\nNVRM: (PCI ID: 10de:2330)");
  });

  it("rejects what is not a record", () => {
    expect(parseKmsgRecord(" SUBSYSTEM=pci")).toBeUndefined();
    expect(parseKmsgRecord("hello")).toBeUndefined();
  });
});

describe("parseJournalLine", () => {
  const lines = fixture("journal-k.jsonl").trim().split("\n");

  it("reads MESSAGE, the kernel's own monotonic time, wall clock and a key hashed from the cursor", () => {
    const r = parseJournalLine(lines[0]!)!;
    expect(r.message).toMatch(/^NVRM: Xid \(PCI:0000:18:00\): 13,/);
    expect(r.monotonicUs).toBe(612345678);
    expect(r.realtimeUs).toBe(1741084927000000);
    expect(r.cursor).toMatch(/^s=8f3e/);
    expect(r.key).toMatch(/^j[0-9a-f]{16}$/);
    expect(parseJournalLine(lines[1]!)!.monotonicUs).toBe(750000000); // __MONOTONIC_TIMESTAMP when no source one
  });

  it("decodes a MESSAGE given as bytes and skips non-JSON lines", () => {
    expect(parseJournalLine(lines[2]!)?.message).toMatch(/^pcieport 0000:00:01\.1: AER/);
    expect(parseJournalLine("-- No entries --")).toBeUndefined();
  });
});

describe("matchKernelMessage", () => {
  it("matches Xids with their PCI address and code", () => {
    expect(matchKernelMessage(KMSG.get(XID_SEQ[13])!.message)).toEqual({
      kind: "xid",
      code: 13,
      pci: "PCI:0000:18:00",
    });
    expect(matchKernelMessage("NVRM: Xid (0000:03:00): 14, Channel 00000001")).toEqual({
      kind: "xid",
      code: 14,
      pci: "PCI:0000:03:00",
    });
  });

  it("reads 'GPU has fallen off the bus' without an Xid as Xid 79, single- and multi-line", () => {
    expect(matchKernelMessage(KMSG.get(XID_SEQ.fallen)!.message)).toEqual({
      kind: "xid",
      code: 79,
      pci: "PCI:0000:db:00",
    });
    expect(matchKernelMessage(KMSG.get(XID_SEQ.fallenMultiline)!.message)).toMatchObject({
      code: 79,
      pci: "PCI:0000:db:00",
    });
  });

  it("matches NVSwitch SXids, Fatal and Non-fatal", () => {
    expect(matchKernelMessage(KMSG.get(XID_SEQ.sxidFatal)!.message)).toEqual({
      kind: "sxid",
      code: 20034,
      pci: "PCI:0000:05:00.0",
      fatal: true,
      nvswitch: 0,
    });
    expect(matchKernelMessage(KMSG.get(XID_SEQ.sxidNonFatal)!.message)).toMatchObject({
      code: 12028,
      fatal: false,
    });
  });

  it("ignores other kernel messages", () => {
    expect(matchKernelMessage(KMSG.get(1802)!.message)).toBeUndefined();
    expect(matchKernelMessage(KMSG.get(2003)!.message)).toBeUndefined();
  });
});

describe("matchKernelRecords", () => {
  it("joins a fallen-off-the-bus report split over records", () => {
    const rec = (seq: number, message: string) => ({ key: String(seq), seq, message });
    const matches = matchKernelRecords([
      rec(1, "NVRM: The NVIDIA GPU 0000:5d:00.0"),
      rec(2, "NVRM: (PCI ID: 10de:2330) installed in this system has"),
      rec(3, "NVRM: fallen off the bus and is not responding to commands."),
    ]);
    expect(matches.map((m) => [m.record.seq, m.match])).toEqual([
      [3, { kind: "xid", code: 79, pci: "PCI:0000:5d:00" }],
    ]);
  });
});

describe("pciKey", () => {
  it("compares the kernel's address with nvidia-smi's bus id by their last three parts", () => {
    expect(pciKey("PCI:0000:18:00")).toBe(pciKey("00000000:18:00.0"));
    expect(pciKey("0000:2a:00")).toBe(pciKey("00000000:2A:00.0"));
    expect(pciKey("18:00")).toBe(pciKey("00000000:18:00.0"));
    expect(pciKey("PCI:0000:18:00")).not.toBe(pciKey("00000000:28:00.0"));
    expect(pciKey(undefined)).toBeUndefined();
  });
});

describe("kernelEvents", () => {
  const events = kernelEvents([...KMSG.values()], { ...BOOT, gpus: GPUS });

  it("makes one event per Xid or SXid, id boot id + sequence, time boot time + offset", () => {
    expect(events).toHaveLength(14);
    const e79 = events.find((e) => e.id === `${BOOT.bootId}:${XID_SEQ[79]}`)!;
    expect(e79).toMatchObject({
      component: "accelerator-nvidia-error-xid",
      name: "error_xid",
      type: "Fatal",
      code: 79,
      gpuUuid: uuidOf(6),
      time: new Date(BOOT.bootTimeMs + 750_000).toISOString(),
    });
    expect(e79.message).toMatch(
      new RegExp(`^XID 79 \\(GPU has fallen off the bus\\) detected on GPU ${uuidOf(6)}: NVRM`),
    );
  });

  it("types application Xids as Warning and maps every address to its GPU", () => {
    const byCode = (code: number) => events.filter((e) => e.code === code);
    for (const code of [13, 31, 43, 45]) expect(byCode(code).every((e) => e.type === "Warning")).toBe(true);
    expect(byCode(13).map((e) => e.gpuUuid)).toEqual([uuidOf(0), uuidOf(0)]);
    expect(byCode(94)[0]).toMatchObject({ type: "Fatal", gpuUuid: uuidOf(4) });
    expect(byCode(79).map((e) => e.gpuUuid)).toEqual([uuidOf(6), uuidOf(7), uuidOf(7)]);
  });

  it("types SXids by their severity and names the NVSwitch", () => {
    const sxids = events.filter((e) => e.component === "accelerator-nvidia-error-sxid");
    expect(sxids.map((e) => [e.code, e.type, e.pci])).toEqual([
      [20034, "Fatal", "PCI:0000:05:00.0"],
      [12028, "Warning", "PCI:0000:08:00.0"],
    ]);
  });

  it("keeps the address when no GPU answers to it", () => {
    const [e] = kernelEvents([KMSG.get(XID_SEQ[79])!], { ...BOOT, gpus: [] });
    expect(e).toMatchObject({ pci: "PCI:0000:ba:00" });
    expect(e!.gpuUuid).toBeUndefined();
    expect(e!.message).toContain("detected on GPU PCI:0000:ba:00");
  });

  it("times journal records by their wall clock and ids them by cursor", () => {
    const records = fixture("journal-k.jsonl")
      .split("\n")
      .map(parseJournalLine)
      .filter((r) => r !== undefined);
    const [e13, e79] = kernelEvents(records, { ...BOOT, gpus: GPUS });
    expect(e13!.time).toBe(new Date(1741084927000).toISOString());
    expect(e13!.id).toMatch(new RegExp(`^${BOOT.bootId}:j[0-9a-f]{16}$`));
    expect(e79).toMatchObject({ code: 79, gpuUuid: uuidOf(6) });
  });
});

describe("KmsgReader", () => {
  it("reads a file's records once: a second read adds only what was appended", async () => {
    const path = join(await mkdtemp(join(tmpdir(), "berth-kmsg-")), "kmsg");
    await writeFile(path, kmsgLines(1101, XID_SEQ[13], 1205));
    const reader = new KmsgReader(path);
    expect(reader.read().map((r) => r.seq)).toEqual([1101, 1204, 1205]);
    expect(reader.read()).toEqual([]);
    await appendFile(path, kmsgLines(XID_SEQ[79], 2003));
    expect(reader.read().map((r) => r.seq)).toEqual([1801, 2003]);
    expect(reader.lastSeq).toBe(2003);
  });

  it("starts after a remembered sequence number (an agent restart)", async () => {
    const path = join(await mkdtemp(join(tmpdir(), "berth-kmsg-")), "kmsg");
    await writeFile(path, fixture("kmsg.txt"));
    expect(new KmsgReader(path, XID_SEQ[79]).read()[0]?.seq).toBe(1802);
  });

  it("throws what open throws, for the caller to fall back", () => {
    expect(() => new KmsgReader("/nonexistent/kmsg").read()).toThrow(/ENOENT/);
  });
});

describe("readJournal", () => {
  it("reads this boot's kernel records after a cursor", async () => {
    const run = fakeRunner({ journal: { code: 0, stdout: fixture("journal-k.jsonl") } });
    expect(await readJournal(run, "s=abc")).toHaveLength(3);
    expect(run.calls[0]).toEqual([
      "journalctl",
      "-k",
      "-b",
      "-o",
      "json",
      "--no-pager",
      "--after-cursor=s=abc",
    ]);
  });

  it("answers undefined without journalctl, on failure, or without permission", async () => {
    expect(await readJournal(fakeRunner({ journal: "missing" }))).toBeUndefined();
    expect(await readJournal(fakeRunner({ journal: { code: 1, stdout: "" } }))).toBeUndefined();
    const hint = "Hint: You are currently not seeing messages from other users and the system.";
    expect(await readJournal(fakeRunner({ journal: { code: 0, stdout: "", stderr: hint } }))).toBeUndefined();
  });
});
