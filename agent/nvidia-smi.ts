/**
 * GPU inventory from nvidia-smi: the CSV of `--query-gpu`, the CUDA version from the plain output's header,
 * and MIG devices from `-L`. Parsers are pure (tested on recorded outputs in test/fixtures/nvidia-smi);
 * `detectGpus` runs the commands through an injected runner.
 */

export const GPU_QUERY_ARGS = [
  "--query-gpu=index,uuid,name,memory.total,driver_version,pci.bus_id",
  "--format=csv,noheader,nounits",
];

export interface MigDevice {
  uuid: string;
  profile: string;
}

export interface DetectedGpu {
  index: number;
  uuid?: string;
  product?: string;
  memoryBytes?: number;
  busId?: string;
  mig: MigDevice[];
}

export interface GpuInventory {
  gpus: DetectedGpu[];
  driverVersion?: string;
  cudaVersion?: string;
  /** Why no GPUs were found, when nvidia-smi exists but failed. */
  problem?: string;
}

/** nvidia-smi writes `[N/A]` or `[Not Supported]` for values it cannot read. */
const value = (field: string | undefined): string | undefined => {
  const v = field?.trim();
  return !v || /^\[.*\]$/.test(v) ? undefined : v;
};

/** Rows of `--query-gpu=index,uuid,name,memory.total,driver_version,pci.bus_id --format=csv,noheader,nounits`. */
export function parseGpuQuery(csv: string): { gpus: DetectedGpu[]; driverVersion?: string } {
  const gpus: DetectedGpu[] = [];
  let driverVersion: string | undefined;
  for (const line of csv.split("\n")) {
    if (!line.trim()) continue;
    const [index, uuid, name, memory, driver, busId] = line.split(",");
    const i = Number(value(index));
    if (!Number.isInteger(i)) continue;
    const mib = Number(value(memory));
    gpus.push({
      index: i,
      uuid: value(uuid),
      product: value(name),
      memoryBytes: Number.isFinite(mib) && value(memory) ? mib * 2 ** 20 : undefined,
      busId: value(busId),
      mig: [],
    });
    driverVersion ??= value(driver);
  }
  return { gpus, driverVersion };
}

/** "CUDA Version: 12.4" from the header of plain `nvidia-smi`. */
export const parseCudaVersion = (text: string): string | undefined =>
  /CUDA Version:\s*([0-9][0-9.]*)/.exec(text)?.[1];

/** MIG devices per GPU index, from `nvidia-smi -L`. */
export function parseMigList(text: string): Map<number, MigDevice[]> {
  const byGpu = new Map<number, MigDevice[]>();
  let current: number | undefined;
  for (const line of text.split("\n")) {
    const gpu = /^GPU (\d+):/.exec(line);
    if (gpu) {
      current = Number(gpu[1]);
      continue;
    }
    const mig = /^\s+MIG\s+(\S+)\s+Device\s+\d+:\s+\(UUID:\s*(MIG-[^)\s]+)\)/.exec(line);
    if (mig && current !== undefined) {
      byGpu.set(current, [...(byGpu.get(current) ?? []), { profile: mig[1]!, uuid: mig[2]! }]);
    }
  }
  return byGpu;
}

export type Runner = (
  command: string,
  args: string[],
  opts?: { timeoutMs?: number },
) => Promise<{ code: number | null; stdout: string; stderr: string }>;

/** GPUs of this machine: none when nvidia-smi is absent, none (with the reason) when it fails. */
export async function detectGpus(run: Runner): Promise<GpuInventory> {
  let query: Awaited<ReturnType<Runner>>;
  try {
    query = await run("nvidia-smi", GPU_QUERY_ARGS);
  } catch {
    return { gpus: [] }; // not installed
  }
  if (query.code !== 0) {
    const reason = (query.stdout + query.stderr).trim().split("\n")[0] || `exit code ${query.code}`;
    return { gpus: [], problem: `nvidia-smi failed: ${reason}` };
  }
  const { gpus, driverVersion } = parseGpuQuery(query.stdout);
  const [header, list] = await Promise.all([
    run("nvidia-smi", []).catch(() => undefined),
    run("nvidia-smi", ["-L"]).catch(() => undefined),
  ]);
  const mig = list?.code === 0 ? parseMigList(list.stdout) : new Map<number, MigDevice[]>();
  for (const gpu of gpus) gpu.mig = mig.get(gpu.index) ?? [];
  return {
    gpus,
    driverVersion,
    cudaVersion: header?.code === 0 ? parseCudaVersion(header.stdout) : undefined,
  };
}
