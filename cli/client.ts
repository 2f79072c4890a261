import { CliError } from "./errors.ts";

type Query = Record<string, string | number | boolean | string[] | undefined>;

/** A thin HTTP client for the Berth API: JSON in and out, the error envelope turned into a CliError. */
export class ApiClient {
  readonly endpoint: string;
  readonly #apiKey: string;

  constructor(endpoint: string, apiKey: string) {
    this.endpoint = endpoint.replace(/\/+$/, "");
    this.#apiKey = apiKey;
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
    opts: { query?: Query; body?: unknown; signal?: AbortSignal } = {},
  ) {
    const url = new URL(`${this.endpoint}/api/v1${path}`);
    for (const [k, v] of Object.entries(opts.query ?? {})) {
      if (v === undefined) continue;
      for (const item of Array.isArray(v) ? v : [v]) url.searchParams.append(k, String(item));
    }
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${this.#apiKey}`,
          ...(opts.body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        signal: opts.signal,
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new CliError(
        `cannot reach Berth at ${this.endpoint} (${cause?.code ?? cause?.message ?? (err as Error).message}); ` +
          "is the server running? Start one with `npm start` or pass --endpoint",
      );
    }
    if (!res.ok) throw await errorFrom(res);
    return res;
  }
}

async function errorFrom(res: Response): Promise<CliError> {
  const text = await res.text();
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
    if (body.error?.message)
      return new CliError(`${body.error.message} (${body.error.code ?? "error"}, HTTP ${res.status})`);
  } catch {
    // not our envelope: fall through
  }
  return new CliError(`HTTP ${res.status} ${res.statusText}${text ? `: ${text.slice(0, 200)}` : ""}`);
}
