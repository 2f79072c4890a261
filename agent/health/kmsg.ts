import { createHash } from "node:crypto";
import { closeSync, constants, fstatSync, openSync, readFileSync, readSync } from "node:fs";
import { COMPONENTS } from "../../shared/domain/gpu-health.ts";
import { xidTreatment } from "../../shared/domain/xid-catalog.ts";
import type { Runner } from "../nvidia-smi.ts";
import type { StoredEvent } from "./events.ts";

/**
 * The kernel log as health events (specs/gpu-health.md §2, §4): `/dev/kmsg` records
 * (`<prio>,<seq>,<usec>,<flags>;message`) or `journalctl -k -o json` lines, matched for NVIDIA Xids, "GPU has
 * fallen off the bus" (Xid 79) and NVSwitch SXids. Parsers are pure; `KmsgReader` and `readJournal` do the I/O.
 */

/** One kernel log record. */
export interface KernelRecord {
  /** Unique within a boot: the kmsg sequence number, or a hash of the journal cursor. */
  key: string;
  /** The kmsg sequence number (kmsg only). */
  seq?: number;
  /** The journal cursor (journal only). */
  cursor?: string;
  /** Microseconds since boot. */
  monotonicUs?: number;
  /** Wall clock, microseconds since the epoch (journal only). */
  realtimeUs?: number;
  message: string;
}

/** `\xNN` escapes of /dev/kmsg (a multi-line printk arrives as one record with `\x0a`). */
const unescapeKmsg = (s: string) =>
  s.replace(/\\x([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));

/** A /dev/kmsg record; its dictionary lines (` KEY=value`) are dropped. Undefined when malformed. */
export function parseKmsgRecord(raw: string): KernelRecord | undefined {
  const m = /^(\d+),(\d+),(\d+),[^;]*;([^\n]*)/.exec(raw);
  if (!m) return undefined;
  const seq = Number(m[2]);
  return { key: String(seq), seq, monotonicUs: Number(m[3]), message: unescapeKmsg(m[4]!) };
}

/** A `journalctl -o json` line (MESSAGE may be a byte array when not UTF-8). Undefined when not one. */
export function parseJournalLine(line: string): KernelRecord | undefined {
  if (!line.trimStart().startsWith("{")) return undefined;
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const raw = entry.MESSAGE;
  const message =
    typeof raw === "string"
      ? raw
      : Array.isArray(raw)
        ? Buffer.from(raw as number[]).toString("utf8")
        : undefined;
  const cursor = typeof entry.__CURSOR === "string" ? entry.__CURSOR : undefined;
  if (message === undefined || !cursor) return undefined;
  const micros = (v: unknown) => (typeof v === "string" && /^\d+$/.test(v) ? Number(v) : undefined);
  return {
    key: `j${createHash("sha256").update(cursor).digest("hex").slice(0, 16)}`,
    cursor,
    monotonicUs: micros(entry._SOURCE_MONOTONIC_TIMESTAMP) ?? micros(entry.__MONOTONIC_TIMESTAMP),
    realtimeUs: micros(entry.__REALTIME_TIMESTAMP),
    message,
  };
}

/** What a kernel message says about a GPU or an NVSwitch. */
export type KernelMatch =
  | { kind: "xid"; code: number; pci: string }
  | { kind: "sxid"; code: number; pci: string; fatal: boolean; nvswitch?: number };

// GPUd's RegexNVRMXidCombined and the two fallen-off-the-bus fallbacks (components/accelerator/nvidia/xid/kmsg.go).
const XID = /NVRM: Xid \(((?:PCI:)?[0-9a-fA-F:]+)\).*?: (\d+),/;
const BDF = "((?:[0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2})\\.\\d";
const FALLEN_SINGLE = new RegExp(`NVRM:\\s+GPU ${BDF}:\\s+GPU has fallen off the bus`);
const FALLEN_MULTI = new RegExp(
  `NVRM:\\s+The NVIDIA GPU ${BDF}[\\s\\S]*?fallen off the bus and is not responding to commands`,
);
const FALLEN_HEAD = new RegExp(`NVRM:\\s+The NVIDIA GPU ${BDF}`);
const FALLEN_TAIL = /fallen off the bus and is not responding to commands/;
const SXID = /(?:nvidia-nvswitch(\d+): )?SXid \((?:PCI:)?([0-9a-fA-F:.]+)\): (\d+),\s*(Fatal|Non-fatal)?/;

const withPrefix = (address: string) => (address.startsWith("PCI:") ? address : `PCI:${address}`);

/** The Xid, fallen-off-the-bus or SXid a single message reports. */
export function matchKernelMessage(message: string): KernelMatch | undefined {
  const xid = XID.exec(message);
  if (xid) return { kind: "xid", code: Number(xid[2]), pci: withPrefix(xid[1]!) };
  const fallen = FALLEN_SINGLE.exec(message) ?? FALLEN_MULTI.exec(message);
  if (fallen) return { kind: "xid", code: 79, pci: withPrefix(fallen[1]!) };
  const sxid = SXID.exec(message);
  if (sxid) {
    return {
      kind: "sxid",
      code: Number(sxid[3]),
      pci: withPrefix(sxid[2]!),
      fatal: sxid[4] === "Fatal",
      nvswitch: sxid[1] === undefined ? undefined : Number(sxid[1]),
    };
  }
  return undefined;
}

/**
 * Matches in order; also joins a fallen-off-the-bus report the kernel split over records ("The NVIDIA GPU
 * 0000:18:00.0" ... "fallen off the bus and is not responding to commands.") when the tail follows within 3.
 */
export function matchKernelRecords(records: KernelRecord[]): { record: KernelRecord; match: KernelMatch }[] {
  const out: { record: KernelRecord; match: KernelMatch }[] = [];
  let pending: { pci: string; left: number } | undefined;
  for (const record of records) {
    const match = matchKernelMessage(record.message);
    if (match) {
      out.push({ record, match });
      pending = undefined;
      continue;
    }
    const head = FALLEN_HEAD.exec(record.message);
    if (head) {
      pending = { pci: withPrefix(head[1]!), left: 3 };
    } else if (pending && FALLEN_TAIL.test(record.message)) {
      out.push({ record, match: { kind: "xid", code: 79, pci: pending.pci } });
      pending = undefined;
    } else if (pending && --pending.left === 0) {
      pending = undefined;
    }
  }
  return out;
}

/**
 * A PCI address reduced to domain:bus:device, so the kernel's `PCI:0000:18:00` and nvidia-smi's
 * `00000000:18:00.0` compare equal (the last three parts; the function is dropped).
 */
export function pciKey(address: string | undefined): string | undefined {
  if (!address) return undefined;
  const parts = address
    .trim()
    .replace(/^PCI:/i, "")
    .replace(/\.[0-9a-fA-F]+$/, "")
    .split(":");
  if (parts.length < 2 || parts.some((p) => !/^[0-9a-fA-F]+$/.test(p))) return undefined;
  const [domain, bus, device] = parts.length === 2 ? ["0", ...parts] : parts.slice(-3);
  const hex = (p: string) => parseInt(p, 16).toString(16);
  return `${hex(domain!)}:${hex(bus!)}:${hex(device!)}`;
}

/** A GPU as the kernel events need it. */
export interface GpuRef {
  index: number;
  uuid?: string;
  busId?: string;
}

/** GPUs by `pciKey` of their bus id (GPUs without one left out). */
export const gpusByPci = (gpus: readonly GpuRef[]): Map<string, GpuRef> =>
  new Map(gpus.flatMap((g) => (pciKey(g.busId) ? [[pciKey(g.busId)!, g] as const] : [])));

/** Where kernel records are turned into events: this boot and its GPUs. */
export interface KernelEventContext {
  bootId: string;
  /** Boot time, ms since the epoch (`/proc/stat` btime): kmsg times are offsets from it. */
  bootTimeMs: number;
  gpus: GpuRef[];
}

const MAX_MESSAGE = 2000;

/** Health events for the records that report an Xid or SXid. Ids are boot id + kmsg sequence (or cursor hash). */
export function kernelEvents(records: KernelRecord[], ctx: KernelEventContext): StoredEvent[] {
  const byPci = gpusByPci(ctx.gpus);
  return matchKernelRecords(records).map(({ record, match }) => {
    const time = new Date(
      record.realtimeUs !== undefined
        ? record.realtimeUs / 1000
        : ctx.bootTimeMs + Math.floor((record.monotonicUs ?? 0) / 1000),
    ).toISOString();
    const id = `${ctx.bootId}:${record.key}`;
    const kernel = record.message.replace(/\s+/g, " ").trim();
    if (match.kind === "sxid") {
      const headline = `SXID ${match.code} (${match.fatal ? "Fatal" : "Non-fatal"}) detected on NVSwitch ${match.pci}`;
      return {
        id,
        component: COMPONENTS.sxid,
        time,
        name: "error_sxid",
        type: match.fatal ? "Fatal" : "Warning",
        message: `${headline}: ${kernel}`.slice(0, MAX_MESSAGE),
        code: match.code,
        pci: match.pci,
      };
    }
    const detail = xidTreatment(match.code);
    const gpu = byPci.get(pciKey(match.pci) ?? "");
    return {
      id,
      component: COMPONENTS.xid,
      time,
      name: "error_xid",
      type: detail.type,
      message: `${xidHeadline(match.code, gpu?.uuid ?? match.pci)}: ${kernel}`.slice(0, MAX_MESSAGE),
      code: match.code,
      pci: match.pci,
      ...(gpu?.uuid ? { gpuUuid: gpu.uuid } : {}),
    };
  });
}

/** "XID 79 (GPU has fallen off the bus) detected on GPU <uuid or PCI address>", GPUd's reason, shortened. */
export const xidHeadline = (code: number, gpu: string): string =>
  `XID ${code} (${xidTreatment(code).description}) detected on GPU ${gpu}`;

/**
 * Reads /dev/kmsg without blocking: opened O_RDONLY|O_NONBLOCK, one record per read until EAGAIN (EPIPE: the
 * record was overwritten, read on). A regular file (tests, a saved buffer) is read whole, a record a line.
 * Remembers the last sequence number, so reading again answers only newer records.
 */
export class KmsgReader {
  readonly path: string;
  lastSeq: number | undefined;

  constructor(path: string, lastSeq?: number) {
    this.path = path;
    this.lastSeq = lastSeq;
  }

  /** New records, oldest first. Throws what open throws (EACCES without root or CAP_SYSLOG, ENOENT). */
  read(): KernelRecord[] {
    const fd = openSync(this.path, constants.O_RDONLY | constants.O_NONBLOCK);
    let raws: string[];
    try {
      raws = fstatSync(fd).isFile() ? readFileSync(fd, "utf8").split("\n") : readRecords(fd);
    } finally {
      closeSync(fd);
    }
    const records: KernelRecord[] = [];
    for (const raw of raws) {
      const record = parseKmsgRecord(raw);
      if (!record || (this.lastSeq !== undefined && record.seq! <= this.lastSeq)) continue;
      records.push(record);
      this.lastSeq = record.seq;
    }
    return records;
  }
}

function readRecords(fd: number): string[] {
  // Larger than the kernel's record limit (PRINTK_MESSAGE_MAX, 2048), as GPUd and dmesg.
  const buf = Buffer.alloc(8192);
  const raws: string[] = [];
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, buf, 0, buf.length, null);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EAGAIN" || code === "EWOULDBLOCK") return raws;
      if (code === "EPIPE") continue;
      throw err;
    }
    if (n === 0) return raws;
    raws.push(buf.toString("utf8", 0, n));
  }
}

/** `journalctl -k -b -o json`, after `cursor` when given: the fallback when /dev/kmsg cannot be opened. */
export const journalArgs = (cursor?: string): string[] => [
  "-k",
  "-b",
  "-o",
  "json",
  "--no-pager",
  ...(cursor ? [`--after-cursor=${cursor}`] : []),
];

/** This boot's kernel records from the journal after `cursor`, or undefined when the journal cannot be read. */
export async function readJournal(run: Runner, cursor?: string): Promise<KernelRecord[] | undefined> {
  let out: Awaited<ReturnType<Runner>>;
  try {
    out = await run("journalctl", journalArgs(cursor), { timeoutMs: 30_000 });
  } catch {
    return undefined; // no journalctl
  }
  // Without access, journalctl still exits 0 and shows only the caller's own journal: no kernel messages.
  if (out.code !== 0 || /insufficient permissions|not seeing messages from other users/i.test(out.stderr)) {
    return undefined;
  }
  return out.stdout
    .split("\n")
    .map(parseJournalLine)
    .filter((r) => r !== undefined);
}
