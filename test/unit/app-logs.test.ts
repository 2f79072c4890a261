import { describe, expect, it } from "vitest";
import { linePrinter } from "../../cli/commands/apps.ts";
import { tailOf } from "../../shared/usecases/applications/logs.ts";
import { coalescing } from "../../shared/usecases/applications/reconcile.ts";

const chunks = (...data: string[]) => data.map((d) => ({ data: d }));
const text = (c: { data: string }[]) => c.map((x) => x.data).join("");

describe("tailOf: the last N lines of chunks cut anywhere", () => {
  it("cuts inside a chunk, across chunks, and keeps an unterminated last line", () => {
    expect(text(tailOf(chunks("a\nb\n", "c\nd\n"), 1))).toBe("d\n");
    expect(text(tailOf(chunks("a\nb\n", "c\nd\n"), 3))).toBe("b\nc\nd\n");
    expect(text(tailOf(chunks("a\nb", "c\nd"), 2))).toBe("bc\nd");
    expect(text(tailOf(chunks("a\n", "b\n"), 10))).toBe("a\nb\n");
    expect(tailOf(chunks("a\nb\n"), 0)).toEqual([]);
  });
});

describe("linePrinter: each line named by its container", () => {
  it("prefixes each line once, a line cut across chunks included, per container and stream", () => {
    let out = "";
    const write = (s: string) => {
      out += s;
      return true;
    };
    const sink = { write };
    const print = linePrinter(true, sink, sink);
    print({ stream: "stdout", container: "web", data: "one\ntw" });
    print({ stream: "stdout", container: "db", data: "up\n" });
    print({ stream: "stdout", container: "web", data: "o\nthree\n" });
    expect(out).toBe("web | one\nweb | twdb | up\no\nweb | three\n");
    out = "";
    linePrinter(false, sink, sink)({ stream: "stdout", container: "web", data: "raw\n" });
    expect(out).toBe("raw\n");
  });
});

describe("coalescing", () => {
  it("runs a key once at a time; calls during a run make one more run, not one each", async () => {
    const runs: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const run = coalescing(async (key) => {
      runs.push(key);
      if (runs.length === 1) await gate;
    });
    const first = run("a");
    const second = run("a");
    const third = run("a");
    const other = run("b");
    release();
    await Promise.all([first, second, third, other]);
    expect(runs.sort()).toEqual(["a", "a", "b"]);
    await run("a");
    expect(runs.filter((k) => k === "a")).toHaveLength(3);
  });

  it("with a minimum interval, takes the calls that come while it waits in one run", async () => {
    let runs = 0;
    const run = coalescing(async () => {
      runs++;
    }, 50);
    await run("a");
    // Within the interval of the first: these wait for it to pass, then are one run.
    await Promise.all([run("a"), run("a"), run("a")]);
    expect(runs).toBe(2);
  });
});
