import { open } from "node:fs/promises";
import { join } from "node:path";

/** At most this much per chunk, and this many chunks per request. */
const CHUNK_BYTES = 64 * 1024;
const MAX_CHUNKS = 50;

export interface OutputPosition {
  seq: number;
  stdout: number;
  stderr: number;
}

export interface Chunk {
  stream: "stdout" | "stderr";
  seq: number;
  data: string;
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
 * The next batch of output of a workload, from where the last acknowledged batch ended: stdout then
 * stderr, in chunks with consecutive seqs. Returns the batch and the position to store once the control
 * plane has it (so a retry after a crash resends the same seqs, which the control plane ignores).
 */
export async function nextOutput(
  dir: string,
  from: OutputPosition,
): Promise<{ chunks: Chunk[]; to: OutputPosition }> {
  const to = { ...from };
  const chunks: Chunk[] = [];
  for (const stream of ["stdout", "stderr"] as const) {
    while (chunks.length < MAX_CHUNKS) {
      const data = completeUtf8(await readFrom(join(dir, stream), to[stream], CHUNK_BYTES));
      if (data.length === 0) break;
      chunks.push({ stream, seq: to.seq, data: data.toString("utf8") });
      to.seq += 1;
      to[stream] += data.length;
    }
  }
  return { chunks, to };
}
