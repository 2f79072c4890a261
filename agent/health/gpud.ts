import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { request } from "node:https";
import { z } from "zod";
import {
  ComponentHealthStates,
  EVENT_TYPES,
  type HealthEvent,
  type HealthReport,
} from "../../shared/domain/gpu-health.ts";
import { shouldSendReport } from "./report.ts";

/** GPUd's local API is on this machine only: Berth never sends its requests anywhere else. */
const LOCAL = new Set(["localhost", "127.0.0.1", "[::1]", "::1"]);

/** Whether `endpoint` is GPUd's local API (https on this machine). */
export function isLocalGpud(endpoint: string): boolean {
  try {
    const url = new URL(endpoint);
    return url.protocol === "https:" && LOCAL.has(url.hostname);
  } catch {
    return false;
  }
}

const GpudEvents = z.array(
  z.object({
    component: z.string(),
    events: z
      .array(
        z.object({
          component: z.string().optional(),
          time: z.string(),
          name: z.string(),
          type: z.string(),
          message: z.string().default(""),
        }),
      )
      .nullish(),
  }),
);

/** GET/POST against GPUd with its self-signed certificate accepted (localhost only, checked at start). */
function call(endpoint: string, method: "GET" | "POST", path: string, timeoutMs = 10_000): Promise<unknown> {
  const url = new URL(path, endpoint);
  return new Promise((resolve, reject) => {
    const req = request(url, { method, rejectUnauthorized: false, timeout: timeoutMs }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        body += d;
      });
      res.on("end", () => {
        if ((res.statusCode ?? 0) >= 300)
          return reject(new Error(`GPUd ${method} ${url.pathname}: ${res.statusCode}`));
        try {
          resolve(body ? JSON.parse(body) : undefined);
        } catch {
          reject(new Error(`GPUd ${method} ${url.pathname}: not JSON`));
        }
      });
    });
    req.on("timeout", () =>
      req.destroy(new Error(`GPUd ${method} ${url.pathname}: no answer in ${timeoutMs} ms`)),
    );
    req.on("error", reject);
    req.end();
  });
}

/**
 * GPU health read from a GPUd running beside the agent (specs/gpu-health.md §4, `--gpud-endpoint`): its
 * `/v1/states` and the last 3 days of `/v1/events` each collection, forwarded as they are with `source:
 * "gpud"`; set-healthy goes to GPUd's `POST /v1/health-states/set-healthy`. GPUd's states name no GPU
 * Berth can read, so the report has no per-GPU health: an Unhealthy component keeps the whole device from
 * placement.
 */
export class GpudSource {
  readonly #endpoint: string;
  readonly #bootIdPath: string;
  readonly #sent = new Set<string>();
  #setHealthyPending = false;

  constructor(o: { endpoint: string; bootIdPath?: string }) {
    this.#endpoint = o.endpoint;
    this.#bootIdPath = o.bootIdPath ?? "/proc/sys/kernel/random/boot_id";
  }

  async collect(): Promise<HealthReport> {
    const now = new Date();
    const since = new Date(now.getTime() - 3 * 24 * 3600_000).toISOString();
    const [states, events, bootId] = await Promise.all([
      call(this.#endpoint, "GET", "/v1/states"),
      call(this.#endpoint, "GET", `/v1/events?startTime=${encodeURIComponent(since)}`).catch(() => []),
      readFile(this.#bootIdPath, "utf8").then(
        (s) => s.trim(),
        () => "unknown",
      ),
    ]);
    const parsed = z.array(ComponentHealthStates).parse(states ?? []);
    const known: readonly string[] = EVENT_TYPES;
    const all: HealthEvent[] = GpudEvents.parse(events ?? []).flatMap((c) =>
      (c.events ?? []).map((e) => ({
        id: createHash("sha256")
          .update(`${c.component}\n${e.time}\n${e.name}\n${e.message}`)
          .digest("hex")
          .slice(0, 32),
        component: e.component ?? c.component,
        time: new Date(e.time).toISOString(),
        name: e.name,
        type: (known.includes(e.type) ? e.type : "Unknown") as HealthEvent["type"],
        message: e.message.slice(0, 2000),
      })),
    );
    return {
      source: "gpud",
      bootId,
      collectedAt: now.toISOString(),
      states: parsed.slice(0, 64),
      events: all.filter((e) => !this.#sent.has(e.id)).slice(0, 500),
      gpus: [],
    };
  }

  shouldSend(report: HealthReport, last: { report: HealthReport; at: Date } | undefined, now: Date): boolean {
    return this.#setHealthyPending || shouldSendReport(report, last, now);
  }

  async markSent(report: HealthReport): Promise<void> {
    for (const e of report.events) this.#sent.add(e.id);
    this.#setHealthyPending = false;
  }

  /** GPUd purges up to now (its own rule); Berth's issuedAt cannot be passed on. */
  async setHealthy(components: string[] | undefined, _issuedAt: Date): Promise<void> {
    const query = components?.length ? `?components=${encodeURIComponent(components.join(","))}` : "";
    await call(this.#endpoint, "POST", `/v1/health-states/set-healthy${query}`);
    this.#setHealthyPending = true;
  }
}
