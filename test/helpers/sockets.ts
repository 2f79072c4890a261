import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** A listening TCP socket: its address (dotted IPv4, or IPv6 as hex groups) and port. */
export interface Listener {
  address: string;
  port: number;
}

const ipv4 = (hex: string) =>
  [3, 2, 1, 0].map((i) => Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16)).join(".");

function ipv6(hex: string): string {
  // /proc/net/tcp6 writes four 32-bit words, each in host (little-endian) byte order.
  const words = [0, 1, 2, 3].map((w) => hex.slice(w * 8, w * 8 + 8));
  const bytes = words.flatMap((w) => [6, 4, 2, 0].map((i) => w.slice(i, i + 2)));
  const groups = Array.from({ length: 8 }, (_, g) =>
    `${bytes[2 * g]}${bytes[2 * g + 1]}`.replace(/^0+(?=.)/, ""),
  );
  return groups.join(":");
}

/** The listening TCP sockets a process holds (Linux: /proc), or undefined where /proc cannot tell. */
export function listeningSockets(pid: number): Listener[] | undefined {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return undefined;
  }
  const inodes = new Set<string>();
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  const out: Listener[] = [];
  for (const [file, decode] of [
    ["/proc/net/tcp", ipv4],
    ["/proc/net/tcp6", ipv6],
  ] as const) {
    let text = "";
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    for (const line of text.trim().split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      const [addr, port] = cols[1]!.split(":");
      if (cols[3] === "0A" && inodes.has(cols[9]!))
        out.push({ address: decode(addr!), port: Number.parseInt(port!, 16) });
    }
  }
  return out;
}

/** Whether an address (as listeningSockets writes it) is loopback. */
export const isLoopback = (address: string) =>
  address.startsWith("127.") || address === "0:0:0:0:0:0:0:1" || /^0:0:0:0:0:ffff:7f/i.test(address);
