import type { PollResponse } from "../shared/contracts/reservations.ts";
import { retryAfterMs } from "./backoff.ts";

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

async function failure(res: Response, what: string): Promise<Error> {
  const text = await res.text().catch(() => "");
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
  if (res.status >= 500 || res.status === 429 || res.status === 408) {
    return new TransientError(
      `${what}: HTTP ${res.status} ${message}`,
      retryAfterMs(res.headers.get("retry-after")),
    );
  }
  return new RejectedError(res.status, `${what}: ${message}`, code);
}

/** The agent's side of the protocol (specs/agent-protocol.md), over fetch with keep-alive. */
/** What a login answers (shared/contracts/login.ts), as far as the agent reads it. */
interface LoginAnswer {
  machineID: string;
  token: string;
  controlPlaneKey: string;
  protocol?: number;
  agentEndpoint?: string;
}

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
    let res: Response;
    try {
      res = await fetch(`${this.endpoint}${path}`, {
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
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
      throw new TransientError(`${method} ${path}: cannot reach ${this.endpoint} (${cause})`);
    }
    if (!res.ok) throw await failure(res, `${method} ${path}`);
    return res;
  }

  /** GPUd-compatible login; returns machine id, session token and the control plane's key. */
  async login(body: Record<string, unknown>): Promise<LoginAnswer> {
    const res = await this.#send("POST", "/api/v1/login", { body, auth: false });
    return (await res.json()) as LoginAnswer;
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
    return (await res.json()) as PollResponse;
  }

  async result(id: string, body: Record<string, unknown>) {
    await this.#send("PUT", `/api/v1/agent/reservations/${encodeURIComponent(id)}/result`, { body });
  }

  async status(id: string, body: { state: "running"; pid?: number }) {
    await this.#send("POST", `/api/v1/agent/reservations/${encodeURIComponent(id)}/status`, { body });
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
