import { z } from "zod";

/** One published port of a container: where Docker (or ECS) bound it on the host. */
export const PublishedPort = z.object({
  containerPort: z.number().int().min(1).max(65535),
  hostPort: z.number().int().min(1).max(65535),
  protocol: z.enum(["tcp", "udp", "sctp"]),
});
export type PublishedPort = z.infer<typeof PublishedPort>;

/**
 * A container's network as its agent read it from `docker inspect` `.NetworkSettings` (specs/launcher-extras.md
 * §2): its IPs on its networks and its published ports. Sent with the `running` status, and again when a
 * restarted agent finds it changed; kept on the reservation.
 */
export const WorkloadNetwork = z.object({
  containerIPs: z.array(z.string().min(1).max(64)).max(16),
  ports: z.array(PublishedPort).max(128),
});
export type WorkloadNetwork = z.infer<typeof WorkloadNetwork>;

/**
 * Where a cloud task runs, as its launcher found it once it was running (kept on the cloud reservation, for
 * that task only: a new attempt's task is resolved again). `missing` says what could not be found.
 */
export const TaskNetwork = z.object({
  taskId: z.string(),
  host: z.string().optional(),
  ipAddresses: z.array(z.string()),
  endpoints: z.array(z.string()),
  ports: z.array(PublishedPort),
  missing: z.string().optional(),
});
export type TaskNetwork = z.infer<typeof TaskNetwork>;

/** Distinct, non-empty addresses, in order. */
export const distinctAddresses = (ips: (string | undefined)[]): string[] => [
  ...new Set(ips.filter((ip): ip is string => !!ip)),
];

/** `<ip>:<hostPort>/<protocol>`, the Launcher's endpoint strings. */
export const endpointsOf = (ip: string, ports: PublishedPort[]): string[] =>
  ports.map((p) => `${ip.includes(":") ? `[${ip}]` : ip}:${p.hostPort}/${p.protocol}`);
