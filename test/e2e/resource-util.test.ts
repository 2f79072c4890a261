import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentProcess, startAgentProcess } from "../helpers/agent-process.ts";
import {
  adminKeyOf,
  apiClient,
  type ServerProcess,
  spawnCli,
  startServerProcess,
  tempDir,
} from "../helpers/processes.ts";
import { until } from "../helpers/wait.ts";

const LONG = 60_000;

/**
 * Resource use of a running process job on a real agent (specs/launcher-extras.md §1): `berth jobs top`
 * follows it, the agent samples the job's process group only while someone watches, and the stream ends
 * with the job.
 */
describe("berth jobs top on a real agent", () => {
  let server: ServerProcess;
  let agent: AgentProcess;
  let dataDir: string;
  let admin = "";
  const api = apiClient(
    () => server.url,
    () => admin,
  );

  beforeAll(async () => {
    dataDir = await tempDir("e2e-util");
    server = await startServerProcess(dataDir);
    admin = await adminKeyOf(dataDir);
    const token = (await api<{ token: string }>("POST", "/registration-tokens", { name: "util" })).token;
    agent = startAgentProcess(
      ["--endpoint", server.url, "--data-dir", await tempDir("e2e-util-agent"), "--runtime", "process"],
      { BERTH_TOKEN: token },
    );
    await until(async () => (await api<{ items: unknown[] }>("GET", "/devices")).items.length === 1, LONG);
  }, LONG);

  afterAll(async () => {
    await agent?.stop();
    await server?.stop();
  });

  it(
    "streams samples of a busy process group with the Launcher's units, and ends with the job",
    async () => {
      // A shell whose child spins for a while: two processes in the job's group, one of them busy.
      const job = await api<{ id: string }>("POST", "/jobs", {
        command: "sh -c 'end=$(($(date +%s)+120)); while [ $(date +%s) -lt $end ]; do :; done' & wait",
      });
      await until(
        async () => (await api<{ status: string }>("GET", `/jobs/${job.id}`)).status === "Running",
        LONG,
      );
      const top = spawnCli(
        ["--endpoint", server.url, "--api-key", admin, "-o", "json", "jobs", "top", job.id],
        {
          BERTH_DATA_DIR: dataDir,
        },
      );
      await until(() => top.stdout().trim().split("\n").filter(Boolean).length >= 3, LONG);
      const samples = top
        .stdout()
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as Record<string, number | string>);
      const last = samples.at(-1)!;
      expect(Number(last.cpuPercent)).toBeGreaterThan(0);
      expect(Number(last.cpuPercent)).toBeLessThanOrEqual(100);
      expect(Number(last.cpuTime)).toBeGreaterThan(0);
      expect(Number(last.residentMemory)).toBeGreaterThan(0);
      expect(Number(last.virtualMemory)).toBeGreaterThanOrEqual(Number(last.residentMemory));
      // cpuTime is cumulative, seqId counts the stream's samples.
      expect(Number(last.cpuTime)).toBeGreaterThanOrEqual(Number(samples[0]!.cpuTime));
      expect(samples.map((s) => s.seqId)).toEqual(samples.map((_, i) => i + 1));
      // A one-shot read answers the fresh sample at once.
      const once = await api<{ sample: { cpuTime: number } | null; complete: boolean }>(
        "GET",
        `/jobs/${job.id}/resource-util`,
      );
      expect(once.complete).toBe(false);
      expect(once.sample?.cpuTime).toBeGreaterThan(0);
      await api("POST", `/jobs/${job.id}/control`, { operation: "kill" });
      expect(await top.exited).toBe(0);
      const final = await api<{ complete: boolean }>("GET", `/jobs/${job.id}/resource-util`);
      expect(final.complete).toBe(true);
    },
    3 * LONG,
  );
});
