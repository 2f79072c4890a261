import { CliError } from "./errors.ts";

type Query = Record<string, string | number | boolean | string[] | undefined>;

/** A thin HTTP client for the Berth API: JSON in and out, the error envelope turned into a CliError. */
/** Where the CLI found its endpoint and key, for people: "--api-key", "BERTH_API_KEY", "/path/.berth/admin-key". */
export interface ClientSources {
  endpoint: string;
  apiKey: string;
}

export class ApiClient {
  readonly endpoint: string;
  readonly #apiKey: string;
  readonly sources?: ClientSources;

  constructor(endpoint: string, apiKey: string, sources?: ClientSources) {
    this.endpoint = endpoint.replace(/\/+$/, "");
    this.#apiKey = apiKey;
    this.sources = sources;
  }

  async request<T>(method: string, path: string, opts: { query?: Query; body?: unknown } = {}): Promise<T> {
    const res = await this.raw(method, path, opts);
    if (res.status === 204) return undefined as T;
    return (await res.json()) as T;
  }

  /** Every page of a list, followed to the end. */
  async listAll<T>(path: string, query: Query = {}): Promise<T[]> {
    const items: T[] = [];
    let pageToken: string | undefined;
    do {
      const page = await this.request<{ items: T[]; nextPageToken?: string }>("GET", path, {
        query: { ...query, pageSize: 500, pageToken },
      });
      items.push(...page.items);
      pageToken = page.nextPageToken;
    } while (pageToken);
    return items;
  }

  async raw(
    method: string,
    path: string,
    opts: { query?: Query; body?: unknown; signal?: AbortSignal; headers?: Record<string, string> } = {},
  ) {
    const url = new URL(`${this.endpoint}/api/v1${path}`);
    for (const [k, v] of Object.entries(opts.query ?? {})) {
      if (v === undefined) continue;
      for (const item of Array.isArray(v) ? v : [v]) url.searchParams.append(k, String(item));
    }
    let res: Response;
    try {
      const send = (to: URL) =>
        fetch(to, {
          method,
          headers: {
            ...opts.headers,
            authorization: `Bearer ${this.#apiKey}`,
            ...(opts.body === undefined ? {} : { "content-type": "application/json" }),
          },
          body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
          signal: opts.signal,
          // Redirects are followed here, not by fetch (which drops the key on another origin).
          redirect: "manual",
        });
      res = await send(url);
      // A control plane whose API cannot hold a stream (AWS Lambda) sends follow requests to the host that
      // can (its agent endpoint): a GET is sent there with the same key, once.
      const location = res.headers.get("location");
      if (method === "GET" && (res.status === 307 || res.status === 308) && location) {
        const next = new URL(location, url);
        if (next.protocol === "https:" || next.protocol === "http:") res = await send(next);
      }
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const reason = cause?.code ?? cause?.message ?? (err as Error).message;
      throw new ApiError(
        `cannot reach Berth at ${this.endpoint} (${reason}); ` +
          "is the server running? Start one with `npm start` or pass --endpoint",
        undefined,
        reason,
      );
    }
    if (!res.ok) {
      const err = await errorFrom(res);
      // A refused key is often the wrong one (another server's data dir, a stale variable): say which it was.
      if (res.status === 401 && this.sources) {
        throw new ApiError(
          `${err.message} (the API key came from ${this.sources.apiKey}; the endpoint ${this.endpoint} from ${this.sources.endpoint})`,
          err.status,
          err.reason,
        );
      }
      throw err;
    }
    return res;
  }
}

/**
 * An API call that failed: `status` is the HTTP status, undefined when the server could not be reached
 * (refused, reset, no such host); `reason` is short, for "reconnecting (...)" lines.
 */
export class ApiError extends CliError {
  readonly status?: number;
  readonly reason: string;
  constructor(message: string, status: number | undefined, reason: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.reason = reason;
  }

  /**
   * Whether the same request may work later: the server unreachable or restarting (no answer, 5xx such as
   * a proxy's 502/503/504), or asking to be asked again (408, 429). Any other 4xx is final.
   */
  get transient(): boolean {
    return this.status === undefined || this.status === 408 || this.status === 429 || this.status >= 500;
  }
}

async function errorFrom(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => "");
  const reason = `HTTP ${res.status}`;
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
    if (body.error?.message)
      return new ApiError(
        `${body.error.message} (${body.error.code ?? "error"}, HTTP ${res.status})`,
        res.status,
        reason,
      );
  } catch {
    // not our envelope: fall through
  }
  return new ApiError(
    `HTTP ${res.status} ${res.statusText}${text ? `: ${text.slice(0, 200)}` : ""}`,
    res.status,
    reason,
  );
}
