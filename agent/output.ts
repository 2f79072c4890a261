import { open } from "node:fs/promises";
import { join } from "node:path";
import { run } from "./exec.ts";

/** At most this much of a file per chunk (the same cut every time, so a retried batch repeats its seqs). */
const CHUNK_BYTES = 64 * 1024;
/** The control plane takes at most 500 chunks per request. */
const MAX_CHUNKS = 500;
/** What a batch's JSON costs besides its chunks: `{"chunks":[`, the commas, `],"last":false}`. */
const ENVELOPE_BYTES = 64;
/** The smallest budget the agent goes down to after 413s: a chunk of a few characters always fits. */
export const MIN_BATCH_BYTES = 4 * 1024;
/** What a control plane that does not say takes (Berth's default body limit). */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;

export interface OutputPosition {
  seq: number;
  stdout: number;
  stderr: number;
}

/** How much shipped output a file holds before its disk blocks are freed (releaseShipped). */
export const RELEASE_SHIPPED_BYTES = 16 * 1024 * 1024;

/**
 * Frees the disk blocks of an output file's first `upTo` bytes, already shipped (`fallocate --punch-hole`,
 * aligned down to 4 KiB): the file keeps its length and offsets, so the program appending to it goes on
 * undisturbed and nothing is copied, moved or lost; the hole reads as zeros and is never read. A long-running
 * program's output then takes no more disk than what is not shipped yet. Returns the offset to count from
 * next time: `upTo` also when the file system cannot punch holes (it is not tried again for that stretch).
 */
export async function releaseShipped(path: string, upTo: number): Promise<number> {
  const length = upTo - (upTo % 4096);
  if (length > 0)
    await run("fallocate", ["--punch-hole", "--offset", "0", "--length", String(length), path], {
      timeoutMs: 30_000,
    }).catch(() => undefined);
  return upTo;
}

export interface Chunk {
  stream: "stdout" | "stderr";
  seq: number;
  data: string;
  /** An application's program (container) the chunk comes from. */
  container?: string;
}

async function readFrom(path: string, offset: number, max: number): Promise<Buffer> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, "r");
  } catch {
    return Buffer.alloc(0);
  }
  try {
    const buf = Buffer.alloc(max);
    const { bytesRead } = await handle.read(buf, 0, max, offset);
    return buf.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** Cuts at the last complete UTF-8 character, so a multi-byte character is never split across chunks. */
function completeUtf8(buf: Buffer): Buffer {
  let end = buf.length;
  for (let i = buf.length - 1; i >= Math.max(0, buf.length - 4); i--) {
    const b = buf[i]!;
    if ((b & 0xc0) === 0x80) continue; // continuation byte
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    if (buf.length - i < need) end = i;
    break;
  }
  return buf.subarray(0, end);
}

/**
 * Secret values to mask in shipped output (specs/secrets.md §5.7): each of at least MIN_MASKED bytes becomes
 * `***`. `final`: the workload has ended, so nothing more will follow what was read.
 */
export interface Mask {
  values: string[];
  final: boolean;
}

/** Shorter values are left alone: masking every `1` or `on` would wreck the output and hide nothing. */
export const MIN_MASKED = 6;

export function redact(text: string, values: string[]): string {
  let out = text;
  for (const v of [...values].sort((a, b) => b.length - a.length))
    if (Buffer.byteLength(v) >= MIN_MASKED) out = out.split(v).join("***");
  return out;
}

/** How many bytes at the end of `raw` are a proper prefix of some value (and might become it). */
function heldBack(raw: Buffer, values: string[]): number {
  let hold = 0;
  for (const v of values) {
    const b = Buffer.from(v, "utf8");
    if (b.length < MIN_MASKED) continue;
    for (let n = Math.min(b.length - 1, raw.length); n > hold; n--)
      if (raw.subarray(raw.length - n).equals(b.subarray(0, n))) {
        hold = n;
        break;
      }
  }
  return hold;
}

/** The bytes a chunk adds to a batch's JSON body (with its comma). */
const encodedBytes = (c: Chunk) => Buffer.byteLength(JSON.stringify(c)) + 1;

/**
 * The next batch of output of a workload, from where the last acknowledged batch ended: stdout then
 * stderr, in chunks with consecutive seqs, the whole request body at most `budget` bytes as JSON. A
 * single chunk larger than that (output that JSON escapes 6-fold) is cut smaller. Returns the batch and
 * the position to store once the control plane has it, and whether the files hold more after it. With
 * `until` (the end of a batch already sent once), reads stop there: the same batch again, chunk for chunk,
 * though the files grew since (the control plane ignores seqs it has, so a retry must repeat them exactly).
 */
export async function nextOutput(
  dir: string,
  from: OutputPosition,
  budget = DEFAULT_BODY_LIMIT,
  until?: OutputPosition,
  mask?: Mask,
): Promise<{ chunks: Chunk[]; to: OutputPosition; more: boolean }> {
  const to = { ...from };
  const chunks: Chunk[] = [];
  let used = ENVELOPE_BYTES;
  for (const stream of ["stdout", "stderr"] as const) {
    while (chunks.length < MAX_CHUNKS) {
      const max = Math.min(CHUNK_BYTES, (until?.[stream] ?? Number.POSITIVE_INFINITY) - to[stream]);
      if (max <= 0) break;
      let raw = completeUtf8(await readFrom(join(dir, stream), to[stream], max));
      // A chunk never ends inside what may be the start of a secret value: those bytes wait for the next
      // read (unless the workload has ended, or this is a batch sent before, cut as it was then).
      const replay = until !== undefined && to[stream] + raw.length >= until[stream];
      if (mask && !mask.final && !replay)
        raw = completeUtf8(raw.subarray(0, raw.length - heldBack(raw, mask.values)));
      if (raw.length === 0) break;
      const text = (b: Buffer) => (mask ? redact(b.toString("utf8"), mask.values) : b.toString("utf8"));
      let chunk: Chunk = { stream, seq: to.seq, data: text(raw) };
      if (used + encodedBytes(chunk) > budget) {
        if (chunks.length > 0) return { chunks, to, more: true };
        // Alone and still too big: halve it until it fits (one character always does).
        while (ENVELOPE_BYTES + encodedBytes(chunk) > budget) {
          const half = completeUtf8(raw.subarray(0, Math.ceil(raw.length / 2)));
          if (half.length === 0 || half.length === raw.length) break;
          raw = half;
          chunk = { stream, seq: to.seq, data: text(raw) };
        }
      }
      chunks.push(chunk);
      used += encodedBytes(chunk);
      to.seq += 1;
      to[stream] += raw.length;
    }
    if (chunks.length >= MAX_CHUNKS) return { chunks, to, more: true };
  }
  return { chunks, to, more: false };
}
