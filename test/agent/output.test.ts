import { appendFile, mkdtemp, open, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { nextOutput, redact, releaseShipped } from "../../agent/output.ts";

describe("nextOutput", () => {
  it("ships stdout then stderr from where the last batch ended, with consecutive seqs", async () => {
    const dir = await mkdtemp(join(tmpdir(), "out-"));
    await writeFile(join(dir, "stdout"), "hello\n");
    await writeFile(join(dir, "stderr"), "warn\n");
    const first = await nextOutput(dir, { seq: 1, stdout: 0, stderr: 0 });
    expect(first.chunks).toEqual([
      { stream: "stdout", seq: 1, data: "hello\n" },
      { stream: "stderr", seq: 2, data: "warn\n" },
    ]);
    expect(await nextOutput(dir, first.to)).toEqual({ chunks: [], to: first.to, more: false });
    await appendFile(join(dir, "stdout"), "more\n");
    expect((await nextOutput(dir, first.to)).chunks).toEqual([{ stream: "stdout", seq: 3, data: "more\n" }]);
  });

  it("never splits a multi-byte character across chunks", async () => {
    const dir = await mkdtemp(join(tmpdir(), "out-"));
    const text = `${"a".repeat(64 * 1024 - 1)}é${"b".repeat(10)}`;
    await writeFile(join(dir, "stdout"), text);
    const { chunks } = await nextOutput(dir, { seq: 1, stdout: 0, stderr: 0 });
    expect(chunks.map((c) => c.data).join("")).toBe(text);
    expect(chunks[0]!.data.endsWith("a")).toBe(true);
  });

  it("has nothing to ship when the files do not exist yet", async () => {
    const dir = await mkdtemp(join(tmpdir(), "out-"));
    expect((await nextOutput(dir, { seq: 1, stdout: 0, stderr: 0 })).chunks).toEqual([]);
  });

  it("keeps a batch's JSON under the budget, however the output escapes", async () => {
    const dir = await mkdtemp(join(tmpdir(), "out-"));
    // 4 MiB at once: plain text, then control characters (6 bytes each as JSON).
    await writeFile(join(dir, "stdout"), "x".repeat(4 * 1024 * 1024));
    await writeFile(join(dir, "stderr"), "\u0001".repeat(300 * 1024));
    const budget = 256 * 1024;
    let at = { seq: 1, stdout: 0, stderr: 0 };
    const seen = { stdout: "", stderr: "" };
    for (let batches = 0; ; batches++) {
      const { chunks, to, more } = await nextOutput(dir, at, budget);
      if (chunks.length === 0) break;
      expect(Buffer.byteLength(JSON.stringify({ chunks, last: false }))).toBeLessThanOrEqual(budget);
      expect(chunks.map((c) => c.seq)).toEqual(chunks.map((_, i) => at.seq + i));
      for (const c of chunks) seen[c.stream] += c.data;
      at = to;
      expect(batches).toBeLessThan(1000);
      if (!more) expect((await nextOutput(dir, at, budget)).chunks).toEqual([]);
    }
    expect(seen.stdout.length).toBe(4 * 1024 * 1024);
    expect(seen.stderr).toBe("\u0001".repeat(300 * 1024));
  });

  it("cuts a single chunk smaller when even it alone is over the budget", async () => {
    const dir = await mkdtemp(join(tmpdir(), "out-"));
    await writeFile(join(dir, "stdout"), "\u0002".repeat(64 * 1024)); // 384 KiB as JSON
    const { chunks } = await nextOutput(dir, { seq: 1, stdout: 0, stderr: 0 }, 16 * 1024);
    expect(chunks).toHaveLength(1);
    expect(Buffer.byteLength(JSON.stringify({ chunks }))).toBeLessThanOrEqual(16 * 1024);
    expect(chunks[0]!.data.length).toBeGreaterThan(0);
  });

  it("repeats a batch sent once exactly, chunk for chunk, though the files grew since", async () => {
    const dir = await mkdtemp(join(tmpdir(), "out-"));
    await writeFile(join(dir, "stdout"), "first\n");
    await writeFile(join(dir, "stderr"), "oops\n");
    const from = { seq: 1, stdout: 0, stderr: 0 };
    const sent = await nextOutput(dir, from);
    await appendFile(join(dir, "stdout"), "second\n");
    expect(await nextOutput(dir, from, undefined, sent.to)).toEqual({ ...sent, more: false });
    // Without the bound, the grown file would be cut differently under the same seqs.
    expect((await nextOutput(dir, from)).chunks[0]!.data).toBe("first\nsecond\n");
  });

  describe("masking secret values (secrets.md §5.7)", () => {
    const SECRET = "hf_Secret_Value";
    const running = { values: [SECRET], final: false };

    it("masks each value of 6 bytes or more, longest first; shorter ones are left alone", () => {
      expect(redact(`a ${SECRET} b ${SECRET}`, [SECRET])).toBe("a *** b ***");
      expect(redact("on and on", ["on"])).toBe("on and on");
      expect(redact("abcdefgh", ["abcdef", "abcdefgh"])).toBe("***");
    });

    it("holds back what may be the start of a value until the rest is written, so a split value is masked", async () => {
      const dir = await mkdtemp(join(tmpdir(), "out-"));
      await writeFile(join(dir, "stdout"), "token: hf_Se");
      const first = await nextOutput(dir, { seq: 1, stdout: 0, stderr: 0 }, undefined, undefined, running);
      expect(first.chunks).toEqual([{ stream: "stdout", seq: 1, data: "token: " }]);
      expect(first.to.stdout).toBe(7);
      await appendFile(join(dir, "stdout"), "cret_Value done\n");
      const second = await nextOutput(dir, first.to, undefined, undefined, running);
      expect(second.chunks).toEqual([{ stream: "stdout", seq: 2, data: "*** done\n" }]);
      // Once the workload has ended, a trailing prefix is output like any other (nothing more will come).
      await appendFile(join(dir, "stdout"), "hf_Sec");
      expect((await nextOutput(dir, second.to, undefined, undefined, running)).chunks).toEqual([]);
      const last = await nextOutput(dir, second.to, undefined, undefined, { ...running, final: true });
      expect(last.chunks).toEqual([{ stream: "stdout", seq: 3, data: "hf_Sec" }]);
    });

    it("cuts a batch sent once the same way again", async () => {
      const dir = await mkdtemp(join(tmpdir(), "out-"));
      await writeFile(join(dir, "stdout"), "x hf_Se");
      const sent = await nextOutput(dir, { seq: 1, stdout: 0, stderr: 0 }, undefined, undefined, running);
      await appendFile(join(dir, "stdout"), "cret_Value");
      const again = await nextOutput(dir, { seq: 1, stdout: 0, stderr: 0 }, undefined, sent.to, running);
      expect(again.chunks).toEqual(sent.chunks);
    });
  });
});

describe("releaseShipped", () => {
  it("frees the disk of what was shipped while the file keeps its length, its offsets and a writer appending to it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "out-"));
    const path = join(dir, "stdout");
    // A writer with the file open for appending, as a program's stdout is.
    const writer = await open(path, "a");
    await writer.write(Buffer.alloc(1024 * 1024, "x"));
    const before = await stat(path);
    expect(await releaseShipped(path, 1024 * 1024 - 100)).toBe(1024 * 1024 - 100);
    const after = await stat(path);
    expect(after.size).toBe(before.size);
    // ext4, xfs, btrfs and tmpfs punch holes; the blocks of the shipped part are gone.
    expect(after.blocks).toBeLessThan(before.blocks / 4);
    await writer.write("tail\n");
    await writer.close();
    const from = { seq: 1, stdout: 1024 * 1024 - 100, stderr: 0 };
    const next = await nextOutput(dir, from);
    expect(next.chunks.map((c) => c.data).join("")).toBe(`${"x".repeat(100)}tail\n`);
  });
});
