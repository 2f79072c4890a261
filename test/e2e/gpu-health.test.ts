import { appendFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentProcess, startAgentProcess } from "../helpers/agent-process.ts";
import { fakeGpuMachine } from "../helpers/fake-gpu-machine.ts";
import {
  adminKeyOf,
  apiClient,
  runCli,
  type ServerProcess,
  startServerProcess,
  tempDir,
} from "../helpers/processes.ts";
import { until } from "../helpers/wait.ts";

const LONG = 60_000;
/**
 * GPU health on a real agent (specs/gpu-health.md): a fake nvidia-smi first on its PATH and a kernel log
 * file the test appends GPUd-format Xid lines to. An application Xid changes nothing; a fatal one takes
 * its GPU away from placement until `berth devices set-healthy`.
 */
describe("GPU health on a real agent, through the CLI", () => {
  let server: ServerProcess;
  let agent: AgentProcess;
  let dataDir: string;
  let kmsg: string;
  let admin = "";
  let device = "";
  const api = apiClient(
    () => server.url,
    () => admin,
  );
  const cli = (args: string[]) =>
    runCli(["--endpoint", server.url, "--api-key", admin, ...args], { BERTH_DATA_DIR: dataDir });
  /** Whether the job was placed on GPU `gpu` (its placed event says; its status message moves on once it runs). */
  const placedOn = async (job: string, gpu: number) =>
    (
      await api<{ events: { type: string; message: string }[] }>("GET", `/jobs/${job}/events?follow=false`)
    ).events.some((e) => e.type === "placed" && e.message.includes(`(GPU ${gpu})`));
  const health = () =>
    api<{ summary: { state: string; unhealthyGpus: number[]; reason: string } | null }>(
      "GET",
      `/devices/${device}/health`,
    );

  beforeAll(async () => {
    dataDir = await tempDir("e2e-health");
    const machine = await fakeGpuMachine();
    kmsg = machine.kmsg;
    server = await startServerProcess(dataDir);
    admin = await adminKeyOf(dataDir);
    const token = (await api<{ token: string }>("POST", "/registration-tokens", { name: "health" })).token;
    agent = startAgentProcess(
      ["--endpoint", server.url, "--data-dir", await tempDir("e2e-health-agent"), "--runtime", "process"],
      {
        BERTH_TOKEN: token,
        ...machine.env,
      },
    );
    await until(
      async () => (await api<{ items: { id: string }[] }>("GET", "/devices")).items.length === 1,
      LONG,
    );
    device = (await api<{ items: { id: string }[] }>("GET", "/devices")).items[0]!.id;
  }, 2 * LONG);

  afterAll(async () => {
    await agent?.stop();
    await server?.stop();
  });

  it(
    "reports Healthy, ignores an application Xid, skips a GPU a fatal Xid took, and returns it after set-healthy",
    async () => {
      await until(async () => (await health()).summary?.state === "Healthy", LONG);
      // Xid 13 (an application's fault): an event, and still Healthy.
      await appendFile(
        kmsg,
        "4,2,2000,-;NVRM: Xid (PCI:0000:18:00): 13, pid=41233, name=python3, Graphics SM Warp Exception\n",
      );
      await until(async () => {
        const events = await api<{ items: { message: string }[] }>("GET", `/devices/${device}/health/events`);
        return events.items.some((e) => e.message.includes("13"));
      }, LONG);
      expect((await health()).summary?.state).toBe("Healthy");

      // Xid 79 on GPU 0: Unhealthy, and GPU 0 gets no new job.
      await appendFile(
        kmsg,
        "3,3,3000,-;NVRM: Xid (PCI:0000:18:00): 79, pid=0, name=, GPU has fallen off the bus.\n",
      );
      await until(async () => (await health()).summary?.state === "Unhealthy", LONG);
      expect((await health()).summary).toMatchObject({ unhealthyGpus: [0] });
      expect((await health()).summary?.reason).toContain("79");
      const list = await cli(["devices", "list", "--health", "Unhealthy"]);
      expect(list.code).toBe(0);
      expect(list.stdout).toContain("HEALTH");
      expect(list.stdout).toContain("Unhealthy (GPU 0)");
      const shown = await cli(["devices", "health", device]);
      expect(shown.stdout).toContain("accelerator-nvidia-error-xid");
      expect(shown.stdout).toContain("REBOOT_SYSTEM");

      const first = await api<{ id: string }>("POST", "/jobs", { command: "sleep 600", gpus: { count: 1 } });
      await until(async () => await placedOn(first.id, 1), LONG);
      const second = await api<{ id: string }>("POST", "/jobs", { command: "sleep 600", gpus: { count: 1 } });
      await until(
        async () =>
          (await api<{ statusCode?: string }>("GET", `/jobs/${second.id}`)).statusCode === "NoCapacity",
        LONG,
      );
      expect((await api<{ statusMessage: string }>("GET", `/jobs/${second.id}`)).statusMessage).toContain(
        "Unhealthy GPUs are skipped",
      );

      // After the repair: set-healthy, a signed operation the agent carries out; GPU 0 is placed on again.
      const set = await cli([
        "devices",
        "set-healthy",
        device,
        "--component",
        "accelerator-nvidia-error-xid",
      ]);
      expect(set.code).toBe(0);
      await until(async () => (await health()).summary?.state === "Healthy", LONG);
      await until(async () => await placedOn(second.id, 0), LONG);
      // The agent's result for the operation goes out with its next report round.
      const op = async () =>
        (await api<{ items: { action: string; state: string }[] }>("GET", `/devices/${device}/operations`))
          .items[0];
      await until(async () => (await op())?.state === "done", LONG);
      expect(await op()).toMatchObject({ action: "set-healthy", state: "done" });
      for (const j of [first.id, second.id])
        await api("POST", `/jobs/${j}/control`, { operation: "kill" }).catch(() => {});
    },
    4 * LONG,
  );
});
