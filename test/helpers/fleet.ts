import type { TestApp } from "./app.ts";

/** Creates a registration token through the API; returns its id and secret. */
export async function createToken(t: TestApp, body: Record<string, unknown> = {}, admin = t.admin) {
  const res = await t.call("POST", "/api/v1/registration-tokens", {
    token: admin,
    body: { name: "lab", ...body },
  });
  if (res.status !== 201) throw new Error(`token create failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as { id: string; token: string; deviceCount: number };
}

/** The body GPUd sends on `gpud login` (camelCase, strings everywhere). */
export function gpudLoginBody(token: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    token,
    machineID: "",
    nodeGroup: "default",
    network: { publicIP: "203.0.113.7", privateIP: "10.0.0.7" },
    location: { region: "us-east-1", zone: "us-east-1a" },
    provider: "aws",
    providerInstanceID: "i-0abc",
    resources: { cpu: "96", memory: "1024Gi", "ephemeral-storage": "2Ti", "nvidia.com/gpu": "8" },
    machineInfo: {
      hostname: "gpu-node-1",
      gpudVersion: "v0.5.1",
      gpuDriverVersion: "550.54.15",
      cudaVersion: "12.4",
      kernelVersion: "6.5.0",
      osImage: "Ubuntu 22.04.4 LTS",
      machineID: "os-machine-id-not-berths",
      cpuInfo: { type: "Intel(R) Xeon(R) Platinum 8480+", architecture: "x86_64", logicalCores: 224 },
      memoryInfo: { totalBytes: 2_147_483_648_000 },
      gpuInfo: {
        product: "NVIDIA H100 80GB HBM3",
        memory: "80Gi",
        gpus: Array.from({ length: 8 }, (_, i) => ({
          uuid: `GPU-${i}`,
          busID: `0000:0${i}:00.0`,
          minorID: String(i),
        })),
      },
    },
    ...over,
  };
}

/** POST /api/v1/login with GPUd's headers. */
export async function login(t: TestApp, body: unknown, headers: Record<string, string> = {}) {
  const res = await t.call("POST", "/api/v1/login", {
    body: typeof body === "string" ? body : JSON.stringify(body),
    headers: { origin: "gpu-node-1", ...headers },
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}
