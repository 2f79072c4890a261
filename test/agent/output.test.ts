import { appendFile, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { nextOutput } from "../../agent/output.ts";

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
    expect(await nextOutput(dir, first.to)).toEqual({ chunks: [], to: first.to });
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
});
