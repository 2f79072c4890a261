import http from "node:http";
import https from "node:https";
import type { PollResponse } from "../shared/contracts/reservations.ts";
import type { HealthReport } from "../shared/domain/gpu-health.ts";
import type { WorkloadNetwork } from "../shared/domain/job-network.ts";
import type { UsageSample } from "../shared/domain/usage.ts";
import { retryAfterMs } from "./backoff.ts";

/** What the agent reads of an answer. */
interface Answer {
  status: number;
  retryAfter: string | null;
  location?: string;
  text: string;
}

// Kept-alive connections, one pool per scheme. node:http rather than fetch: fetch loads undici (and its WASM
// HTTP parser) into every agent, 15-20 MiB of an idle agent's memory (BENCHMARKS.md, agent).
const pools = {
  "http:": new http.Agent({ keepAlive: true, maxSockets: 8 }),
  "https:": new https.Agent({ keepAlive: true, maxSockets: 8 }),
};

/**
 * One request, again once when it was sent on a kept-alive connection the server had just closed (ECONNRESET on
 * a reused socket: Node's documented race; every agent request may be repeated).
 */
async function send(
  url: URL,
  opts: { method: string; headers: Record<string, string>; body?: string; signal: AbortSignal },
): Promise<Answer> {
  try {
    return await sendOnce(url, opts);
  } catch (err) {
    if ((err as { reusedSocket?: boolean }).reusedSocket && !opts.signal.aborted) return sendOnce(url, opts);
    throw err;
  }
}

/** One request with a JSON body (or none), answered with its status and text; rejects on a network error. */
function sendOnce(
  url: URL,
  opts: { method: string; headers: Record<string, string>; body?: string; signal: AbortSignal },
): Promise<Answer> {
  const scheme = url.protocol === "https:" ? https : http;
  const agent = pools[url.protocol as keyof typeof pools];
  if (!agent) return Promise.reject(new Error(`unsupported URL scheme ${url.protocol}`));
  return new Promise((resolve, reject) => {
    const req = scheme.request(
      url,
      {
        method: opts.method,
        agent,
        signal: opts.signal,
        headers: {
          ...opts.headers,
          ...(opts.body === undefined ? {} : { "content-length": String(Buffer.byteLength(opts.body)) }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        // Cut off mid-answer (the connection dropped): an error, not a short body.
        res.on("close", () => {
          if (!res.complete) reject(new Error("the connection closed mid-answer"));
        });
        res.on("end", () => {
          const retry = res.headers["retry-after"];
          resolve({
            status: res.statusCode ?? 0,
            retryAfter: typeof retry === "string" ? retry : null,
            location: res.headers.location,
            text: Buffer.concat(chunks).toString("utf8"),
          });
        });
      },
    );
    req.on("error", (err) => {
      const code = (err as { code?: string }).code;
      reject(Object.assign(err, { reusedSocket: req.reusedSocket && code === "ECONNRESET" }));
    });
    req.end(opts.body);
  });
}

/** The device was deleted or its session revoked: the agent must stop. */
export class RevokedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RevokedError";
  }
}

/** The control plane could not be reached, or answered 5xx/429: try again later. */
export class TransientError extends Error {
  readonly retryAfterMs?: number;
  constructor(message: string, retryAfter?: number) {
    super(message);
    this.name = "TransientError";
    this.retryAfterMs = retryAfter;
  }
}

/** The control plane refused the request itself (4xx): retrying the same request will not help. */
export class RejectedError extends Error {
  readonly status: number;
  readonly code?: string;
  constructor(status: number, message: string, code?: string) {
    super(message);
    this.name = "RejectedError";
    this.status = status;
    this.code = code;
  }
}

function failure(res: Answer, what: string): Error {
  const text = res.text;
  let message = text.slice(0, 300);
  let code: string | undefined;
  try {
    const body = JSON.parse(text) as {
      error?: { code?: string; message?: string } | string;
      message?: string;
      code?: string;
    };
    if (typeof body.error === "object" && body.error?.message) {
      message = body.error.message;
      code = body.error.code;
    } else if (typeof body.message === "string") {
      message = body.message;
      code = body.code;
    }
  } catch {
    // not JSON: keep the text
  }
  if (res.status === 401) return new RevokedError(`${what}: ${message}`);
  // Not followed (a redirect could take the session token elsewhere), and not a refusal of what was sent: the
  // request is kept and tried again, and the log says where to point the agent.
  if (res.status >= 300 && res.status < 400) {
    return new TransientError(
      `${what}: HTTP ${res.status}, redirected to ${res.location ?? "(no Location)"}; give the agent that URL as its endpoint`,
    );
  }
  if (res.status >= 500 || res.status === 429 || res.status === 408) {
    return new TransientError(`${what}: HTTP ${res.status} ${message}`, retryAfterMs(res.retryAfter));
  }
  return new RejectedError(res.status, `${what}: ${message}`, code);
}

/** What a login answers (shared/contracts/login.ts), as far as the agent reads it. */
interface LoginAnswer {
  machineID: string;
  token: string;
  controlPlaneKey: string;
  protocol?: number;
  agentEndpoint?: string;
}

/** The agent's side of the protocol (specs/agent-protocol.md), over HTTP(S) with keep-alive. */
export class AgentClient {
  /** Where requests go; the agent moves it to its registered URL while its agent endpoint is unreachable. */
  endpoint: string;
  sessionToken: string;

  constructor(endpoint: string, sessionToken = "") {
    this.endpoint = endpoint.replace(/\/+$/, "");
    this.sessionToken = sessionToken;
  }

  async #send(
    method: string,
    path: string,
    opts: { body?: unknown; timeoutMs?: number; signal?: AbortSignal; auth?: boolean } = {},
  ) {
    const timeout = AbortSignal.timeout(opts.timeoutMs ?? 30_000);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    let res: Answer;
    try {
      res = await send(new URL(`${this.endpoint}${path}`), {
        method,
        headers: {
          ...(opts.auth === false ? {} : { authorization: `Bearer ${this.sessionToken}` }),
          ...(opts.body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        signal,
      });
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      const e = err as { code?: string; message: string; name?: string };
      const cause = timeout.aborted ? "timed out" : (e.code ?? e.message);
      throw new TransientError(`${method} ${path}: cannot reach ${this.endpoint} (${cause})`);
    }
    if (res.status < 200 || res.status > 299) throw failure(res, `${method} ${path}`);
    return { json: <T>() => JSON.parse(res.text) as T };
  }

  /** GPUd-compatible login; returns machine id, session token and the control plane's key. */
  async login(body: Record<string, unknown>): Promise<LoginAnswer> {
    const res = await this.#send("POST", "/api/v1/login", { body, auth: false });
    return res.json<LoginAnswer>();
  }

  async heartbeat(body: { machineInfo?: Record<string, unknown>; agentVersion?: string }) {
    await this.#send("POST", "/api/v1/agent/heartbeat", { body });
  }

  /** A long poll: the request may legitimately take `wait` seconds. */
  async poll(from: number, wait: number, signal?: AbortSignal): Promise<PollResponse> {
    const res = await this.#send("GET", `/api/v1/agent/reservations?from=${from}&wait=${wait}`, {
      timeoutMs: (wait + 20) * 1000,
      signal,
    });
    return res.json<PollResponse>();
  }

  async result(id: string, body: Record<string, unknown>) {
    await this.#send("PUT", `/api/v1/agent/reservations/${encodeURIComponent(id)}/result`, { body });
  }

  async status(
    id: string,
    body: {
      /** A lab's workload also reports `pulling` (with `message`) and `ready` (specs/labs.md §5). */
      state: "running" | "pulling" | "ready";
      message?: string;
      hostPort?: number;
      pid?: number;
      /** A container's IPs and published ports (specs/launcher-extras.md §2). */
      network?: WorkloadNetwork;
      /** An application's programs (Synpse's WorkloadStatus). */
      containers?: {
        name: string;
        state: string;
        message: string;
        restartCount: number;
        exitCode?: number;
        startedAt?: string;
      }[];
    },
  ) {
    await this.#send("POST", `/api/v1/agent/reservations/${encodeURIComponent(id)}/status`, { body });
  }

  /** The device's GPU health (specs/gpu-health.md §4). */
  async health(report: HealthReport) {
    await this.#send("POST", "/api/v1/agent/health", { body: report });
  }

  /** Resource-use samples a sampling lease asked for (specs/launcher-extras.md §1). */
  async usage(id: string, samples: UsageSample[]) {
    await this.#send("POST", `/api/v1/agent/reservations/${encodeURIComponent(id)}/usage`, {
      body: { samples },
    });
  }

  async deleted(id: string) {
    await this.#send("PUT", `/api/v1/agent/reservations/${encodeURIComponent(id)}/deleted`);
  }

  /** Output chunks; `last`: the workload's output is all there (after a result sent with outputPending). */
  async output(
    id: string,
    chunks: { stream: "stdout" | "stderr"; seq: number; data: string }[],
    last = false,
  ) {
    await this.#send("POST", `/api/v1/agent/reservations/${encodeURIComponent(id)}/output`, {
      body: last ? { chunks, last } : { chunks },
    });
  }
}
