import { chmod, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { tempDir } from "./processes.ts";

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
 * A healthy two-GPU machine for a real agent (specs/gpu-health.md): the fake nvidia-smi first on its PATH, a
 * kernel log file to append Xid lines to, a boot a day ago (no Initializing grace), health collected each
 * second. `env` starts the agent on it.
 */
export async function fakeGpuMachine(kmsgLines = "6,1,1000,-;Linux version 6.1.0\n") {
  const bin = await tempDir("fake-gpu-machine");
  await fakeSmi(bin);
  const kmsg = join(bin, "kmsg");
  await writeFile(kmsg, kmsgLines);
  const stat = join(bin, "stat");
  await writeFile(stat, `cpu 1 2 3\nbtime ${Math.floor(Date.now() / 1000) - 86_400}\n`);
  const bootId = join(bin, "boot_id");
  await writeFile(bootId, "fake-boot-1\n");
  return {
    kmsg,
    env: {
      PATH: `${bin}:${process.env.PATH}`,
      BERTH_AGENT_KMSG: kmsg,
      BERTH_AGENT_PROC_STAT: stat,
      BERTH_AGENT_BOOT_ID_FILE: bootId,
      BERTH_AGENT_HEALTH_SECONDS: "1",
    },
  };
}
