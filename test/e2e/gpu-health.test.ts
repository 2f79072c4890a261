import { appendFile, chmod, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentProcess, startAgentProcess } from "../helpers/agent-process.ts";
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
const BUS = ["00000000:18:00.0", "00000000:2A:00.0"];

/** An nvidia-smi for two H100s: inventory, the health query, row remapping and temperatures, all healthy. */
async function fakeSmi(dir: string) {
  const health = BUS.map(
    (bus, i) =>
      `${i}, GPU-e2e-${i}, ${bus}, Enabled, 34, 42, 53, Not Active, Not Active, Not Active, Enabled, 0, 0, 0, [N/A], 70.00, 700.00, 1980, 2619`,
  ).join("\\n");
  const script = join(dir, "nvidia-smi");
  await writeFile(
    script,
    `#!/bin/sh
case "$1" in
  --query-gpu=index,uuid,name,*) printf '0, GPU-e2e-0, NVIDIA H100 80GB HBM3, 81559, 550.54.15, ${BUS[0]}\\n1, GPU-e2e-1, NVIDIA H100 80GB HBM3, 81559, 550.54.15, ${BUS[1]}\\n' ;;
  --query-gpu=*) printf '${health}\\n' ;;
  --query-remapped-rows=*) printf '${BUS[0]}, 0, 0, 0, 0\\n${BUS[1]}, 0, 0, 0, 0\\n' ;;
  -L) printf 'GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-e2e-0)\\nGPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-e2e-1)\\n' ;;
  -q) printf 'GPU ${BUS[0]}\\n    Temperature\\n        GPU Max Operating Temp            : 85 C\\n        Memory Max Operating Temp         : 95 C\\n' ;;
  *) echo "| NVIDIA-SMI 550.54.15   Driver Version: 550.54.15   CUDA Version: 12.4 |" ;;
esac
`,
  );
  await chmod(script, 0o755);
}

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
  const health = () =>
    api<{ summary: { state: string; unhealthyGpus: number[]; reason: string } | null }>(
      "GET",
      `/devices/${device}/health`,
    );

  beforeAll(async () => {
    dataDir = await tempDir("e2e-health");
    const bin = await tempDir("e2e-health-bin");
    await fakeSmi(bin);
    kmsg = join(bin, "kmsg");
    await writeFile(kmsg, "6,1,1000,-;Linux version 6.1.0\n");
    // Booted a day ago: no Initializing grace.
    const stat = join(bin, "stat");
    await writeFile(stat, `cpu 1 2 3\nbtime ${Math.floor(Date.now() / 1000) - 86_400}\n`);
    const bootId = join(bin, "boot_id");
    await writeFile(bootId, "e2e-boot-1\n");
    server = await startServerProcess(dataDir);
    admin = await adminKeyOf(dataDir);
    const token = (await api<{ token: string }>("POST", "/registration-tokens", { name: "health" })).token;
    agent = startAgentProcess(
      ["--endpoint", server.url, "--data-dir", await tempDir("e2e-health-agent"), "--runtime", "process"],
      {
        BERTH_TOKEN: token,
        PATH: `${bin}:${process.env.PATH}`,
        BERTH_AGENT_KMSG: kmsg,
        BERTH_AGENT_PROC_STAT: stat,
        BERTH_AGENT_BOOT_ID_FILE: bootId,
        BERTH_AGENT_HEALTH_SECONDS: "1",
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
      await until(
        async () =>
          (await api<{ statusMessage: string }>("GET", `/jobs/${first.id}`)).statusMessage.includes("GPU 1"),
        LONG,
      );
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
      await until(
        async () =>
          (await api<{ statusMessage: string }>("GET", `/jobs/${second.id}`)).statusMessage.includes("GPU 0"),
        LONG,
      );
      const ops = await api<{ items: { action: string; state: string }[] }>(
        "GET",
        `/devices/${device}/operations`,
      );
      expect(ops.items[0]).toMatchObject({ action: "set-healthy", state: "done" });
      for (const j of [first.id, second.id])
        await api("POST", `/jobs/${j}/control`, { operation: "kill" }).catch(() => {});
    },
    4 * LONG,
  );
});
