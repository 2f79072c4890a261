import type { WorkloadNetwork } from "../../shared/domain/job-network.ts";
import type { Runner } from "../nvidia-smi.ts";

interface Binding {
  HostIp?: string;
  HostPort?: string;
}
interface NetworkSettings {
  IPAddress?: string;
  Ports?: Record<string, Binding[] | null> | null;
  Networks?: Record<string, { IPAddress?: string; GlobalIPv6Address?: string }> | null;
}

/**
 * A container's network from `docker inspect` `.NetworkSettings` (specs/launcher-extras.md §2): its IPs on
 * every network it is on, and each published port once (Docker lists a port bound on 0.0.0.0 and on :: twice).
 */
export function containerNetwork(settings: NetworkSettings): WorkloadNetwork {
  const ips = [
    settings.IPAddress,
    ...Object.values(settings.Networks ?? {}).flatMap((n) => [n.IPAddress, n.GlobalIPv6Address]),
  ].filter((ip): ip is string => !!ip);
  const ports = new Map<string, WorkloadNetwork["ports"][number]>();
  for (const [key, bindings] of Object.entries(settings.Ports ?? {})) {
    const [port, protocol = "tcp"] = key.split("/");
    if (protocol !== "tcp" && protocol !== "udp" && protocol !== "sctp") continue;
    for (const b of bindings ?? []) {
      const hostPort = Number(b.HostPort);
      if (!Number.isInteger(hostPort) || hostPort < 1 || hostPort > 65535) continue;
      const p = { containerPort: Number(port), hostPort, protocol } as const;
      if (p.containerPort >= 1 && p.containerPort <= 65535) ports.set(`${port}/${protocol}/${hostPort}`, p);
    }
  }
  return {
    containerIPs: [...new Set(ips)].slice(0, 16),
    ports: [...ports.values()].sort((a, b) => a.containerPort - b.containerPort).slice(0, 128),
  };
}

/** `docker inspect` of a container's network; undefined when Docker does not answer (nothing is reported then). */
export async function inspectNetwork(run: Runner, name: string): Promise<WorkloadNetwork | undefined> {
  try {
    const res = await run("docker", [
      "inspect",
      "--type",
      "container",
      "-f",
      "{{json .NetworkSettings}}",
      name,
    ]);
    if (res.code !== 0) return undefined;
    return containerNetwork(JSON.parse(res.stdout) as NetworkSettings);
  } catch {
    return undefined;
  }
}
