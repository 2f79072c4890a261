import { type ClientResponse, hc } from "hono/client";
import type { ApiRoutes } from "../../shared/app/create-app.ts";
import { readSse, type SseEvent } from "../../shared/contracts/sse.ts";

/**
 * The dashboard's one way to the API: hono/client typed by the API's own route definitions (the ones the
 * OpenAPI document is generated from), so a request or a field that does not exist does not compile.
 */

const KEY = "berth.apiKey";

/** The API key, kept in this tab's session storage (never a cookie, never a URL). */
export const session = {
  key: (): string | null => sessionStorage.getItem(KEY),
  signIn(key: string) {
    sessionStorage.setItem(KEY, key);
  },
  signOut() {
    sessionStorage.removeItem(KEY);
    cache.clear();
    for (const l of signedOut) l();
  },
};
const signedOut = new Set<() => void>();
export const onSignedOut = (l: () => void) => {
  signedOut.add(l);
  return () => signedOut.delete(l);
};

/** An error as the API words it: `{error: {code, message}}`. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// The last answer to each GET, by URL, with its ETag: a refresh that changed nothing is a 304 without a body.
const cache = new Map<string, { etag: string; body: string; type: string }>();

async function conditionalFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  const request = new Request(input, init);
  if (request.method !== "GET") return fetch(request);
  const url = request.url;
  const known = cache.get(url);
  if (known) request.headers.set("if-none-match", known.etag);
  const res = await fetch(request);
  if (res.status === 304 && known)
    return new Response(known.body, { status: 200, headers: { "content-type": known.type } });
  const etag = res.headers.get("etag");
  if (res.ok && etag) {
    const body = await res.clone().text();
    cache.set(url, { etag, body, type: res.headers.get("content-type") ?? "application/json" });
  }
  return res;
}

const authorization = (): Record<string, string> => {
  const key = session.key();
  return key ? { authorization: `Bearer ${key}` } : {};
};

export const api = hc<ApiRoutes>(`${location.origin}/api/v1`, {
  headers: authorization,
  fetch: conditionalFetch,
});

type Success<R> =
  R extends ClientResponse<infer T, infer S, "json"> ? (S extends 200 | 201 ? T : never) : never;

async function failure(res: Response): Promise<ApiError> {
  const body = (await res.json().catch(() => undefined)) as
    | { error?: { code?: string; message?: string } }
    | undefined;
  const err = new ApiError(
    res.status,
    body?.error?.code ?? `HTTP${res.status}`,
    body?.error?.message ?? `the server answered ${res.status} ${res.statusText}`,
  );
  // The key was revoked or has expired: back to the sign-in form, saying why.
  if (res.status === 401) {
    signInMessage = err.message;
    session.signOut();
  }
  return err;
}

/** Why the last session ended, for the sign-in form. */
export let signInMessage = "";

/** The JSON of a 2xx answer; anything else throws its ApiError. */
export async function ok<R extends ClientResponse<unknown, number, string>>(
  request: Promise<R>,
): Promise<Success<R>> {
  let res: R;
  try {
    res = await request;
  } catch (err) {
    throw new ApiError(0, "Unreachable", `cannot reach the control plane (${(err as Error).message})`);
  }
  if (!res.ok) throw await failure(res as unknown as Response);
  if (res.status === 204) return undefined as Success<R>;
  return (await res.json()) as Success<R>;
}

/** How long a followed stream may be silent before it is taken for dead (keep-alives come every 15 s). */
const IDLE_MS = 45_000;

/**
 * This host sends follow requests elsewhere (AWS Lambda, `307` to the agent service): the browser may not take
 * the key there (another origin), so the caller reads the answer as it is instead, again and again.
 */
export class FollowedElsewhere extends Error {}

/**
 * Follows a server-sent event stream of the API (job output, job events) with the API key in a header
 * (EventSource cannot send one), resuming after the last event seen when the connection drops, with a
 * growing delay (at most 5 s). Ends when `stop` aborts or the stream says `complete`.
 */
export async function follow(
  path: string,
  onEvent: (e: SseEvent) => void,
  opts: {
    signal: AbortSignal;
    onConnection?: (up: boolean, why?: string) => void;
    /** The events that end the stream (a lab's ends with `failed` too). */
    endOn?: string[];
  },
): Promise<void> {
  const ends = opts.endOn ?? ["complete"];
  let last: string | undefined;
  let failures = 0;
  while (!opts.signal.aborted) {
    // A connection silent for IDLE_MS (the server sends a keep-alive every 15 s) is taken for dead: after a
    // laptop sleeps or its network changes, a half-open connection would otherwise say "following" forever.
    const attempt = new AbortController();
    const stopAttempt = () => attempt.abort();
    opts.signal.addEventListener("abort", stopAttempt, { once: true });
    let idle: ReturnType<typeof setTimeout> | undefined;
    const alive = () => {
      clearTimeout(idle);
      idle = setTimeout(() => attempt.abort(new Error(`nothing heard for ${IDLE_MS / 1000} s`)), IDLE_MS);
    };
    try {
      alive();
      const res = await fetch(`/api/v1${path}`, {
        headers: {
          ...authorization(),
          accept: "text/event-stream",
          ...(last ? { "last-event-id": last } : {}),
        },
        signal: attempt.signal,
        redirect: "manual",
      });
      if (res.type === "opaqueredirect") throw new FollowedElsewhere("this host does not hold streams");
      if (!res.ok) {
        const err = await failure(res);
        if (res.status < 500 && res.status !== 429) throw err;
        throw new Error(err.message);
      }
      opts.onConnection?.(true);
      failures = 0;
      let windowed = false;
      for await (const e of readSse(res.body!, alive)) {
        if (e.id) last = e.id;
        if (e.event === "continue") {
          windowed = true; // a bounded window (AWS Lambda): ask again at once
          break;
        }
        onEvent(e);
        if (ends.includes(e.event)) return;
      }
      // Ended without `complete` (the server restarted, a proxy cut it): again, after a moment.
      if (!windowed) throw new Error("the stream ended");
    } catch (err) {
      if (opts.signal.aborted) return;
      if (err instanceof ApiError || err instanceof FollowedElsewhere) throw err;
      const why = attempt.signal.aborted ? (attempt.signal.reason as Error).message : (err as Error).message;
      opts.onConnection?.(false, why);
      failures++;
      const delay = Math.min(5000, 250 * 2 ** failures) * (0.5 + Math.random() / 2);
      await new Promise((r) => setTimeout(r, delay));
    } finally {
      clearTimeout(idle);
      opts.signal.removeEventListener("abort", stopAttempt);
    }
  }
}
