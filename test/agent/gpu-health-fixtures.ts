import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { KernelRecord } from "../../agent/health/kmsg.ts";
import { parseKmsgRecord } from "../../agent/health/kmsg.ts";
import { HEALTH_QUERY_FIELDS, parseHealthCsv } from "../../agent/health/smi.ts";
import type { Runner } from "../../agent/nvidia-smi.ts";

/** Helpers shared by the gpu-health tests: fixtures (test/fixtures/gpu-health, see its README) and a fake runner. */

export const fixture = (name: string): string =>
  readFileSync(join(import.meta.dirname, "../fixtures/gpu-health", name), "utf8");

/** The fixture machine's GPUs (health-ok.csv). */
export const GPUS = parseHealthCsv(fixture("health-ok.csv"), HEALTH_QUERY_FIELDS).map(
  ({ index, uuid, busId }) => ({
    index,
    uuid,
    busId,
  }),
);
export const uuidOf = (index: number): string => GPUS[index]!.uuid!;

/** kmsg.txt's records by sequence number. */
export const KMSG = new Map(
  fixture("kmsg.txt")
    .split("\n")
    .map(parseKmsgRecord)
    .filter((r): r is KernelRecord => r !== undefined)
    .map((r) => [r.seq!, r]),
);

/** kmsg.txt lines (with their dictionary lines) of the given sequence numbers, as a kmsg file holds them. */
export const kmsgLines = (...seqs: number[]): string => {
  const out: string[] = [];
  let keep = false;
  for (const line of fixture("kmsg.txt").split("\n")) {
    const seq = /^\d+,(\d+),/.exec(line)?.[1];
    if (seq !== undefined) keep = seqs.includes(Number(seq));
    if (keep && line) out.push(line);
  }
  return out.length > 0 ? `${out.join("\n")}\n` : "";
};

/** The kmsg sequence number of the fixture's first Xid `code`. */
export const XID_SEQ = {
  13: 1204,
  31: 1301,
  43: 1302,
  45: 1303,
  48: 1401,
  63: 1501,
  94: 1601,
  95: 1701,
  79: 1801,
  fallen: 1901,
  fallenMultiline: 1950,
  sxidFatal: 2001,
  sxidNonFatal: 2002,
} as const;

type Answer = { code: number | null; stdout: string; stderr?: string } | "missing" | "hang";

/** What the fake machine answers to each command. */
export interface FakeMachine {
  health?: Answer | ((args: string[]) => Answer);
  remappedRows?: Answer;
  temperature?: Answer;
  fullQuery?: Answer;
  nvlink?: Answer;
  journal?: Answer;
  systemctl?: Answer;
}

const ok = (stdout: string): Answer => ({ code: 0, stdout });

/** A runner answering like the fixture machine, with what `machine` overrides; records every call. */
export function fakeRunner(machine: FakeMachine = {}): Runner & { calls: string[][] } {
  const calls: string[][] = [];
  const runner = async (command: string, args: string[]) => {
    calls.push([command, ...args]);
    let answer: Answer | undefined;
    if (command === "nvidia-smi") {
      if (args[0]?.startsWith("--query-gpu")) {
        const h = machine.health ?? ok(fixture("health-ok.csv"));
        answer = typeof h === "function" ? h(args) : h;
      } else if (args[0]?.startsWith("--query-remapped-rows"))
        answer = machine.remappedRows ?? ok(fixture("remapped-rows-ok.csv"));
      else if (args.join(" ") === "-q -d TEMPERATURE")
        answer = machine.temperature ?? ok(fixture("temperature.txt"));
      else if (args.join(" ") === "-q") answer = machine.fullQuery ?? ok(fixture("smi-q-fabric.txt"));
      else if (args[0] === "nvlink") answer = machine.nvlink ?? ok(fixture("nvlink-status.txt"));
    } else if (command === "journalctl")
      answer = machine.journal ?? { code: 1, stdout: "", stderr: "no journal" };
    else if (command === "systemctl") answer = machine.systemctl ?? ok("active\n");
    if (answer === undefined || answer === "missing") {
      throw Object.assign(new Error(`${command}: not found`), { code: "ENOENT" });
    }
    if (answer === "hang") return new Promise<never>(() => {});
    return { stderr: "", ...answer };
  };
  return Object.assign(runner, { calls });
}
