import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import type { z } from "zod";
import { invalidRequest } from "../domain/errors.ts";

/** One server-sent event of a follow stream: `id` is the cursor a follower resumes after. */
export interface FollowMessage {
  event: string;
  id: string;
  data: string;
}

/** The comment a quiet follow stream sends, so proxies and clients see it is alive. */
export const KEEP_ALIVE = ": keep-alive\n\n";

/**
 * Where a follow stream resumes: the `Last-Event-ID` header (what an EventSource sends when it reconnects,
 * newer than the URL it reconnects to) or else the `after` query value; parsed by the route's cursor schema.
 */
export function resumeCursor<T extends z.ZodType>(
  c: Context,
  schema: T,
  fromQuery: z.output<T> | undefined,
): z.output<T> | undefined {
  const header = c.req.header("last-event-id");
  if (header === undefined || header === "") return fromQuery;
  const parsed = schema.safeParse(header);
  if (!parsed.success)
    throw invalidRequest(`Last-Event-ID: ${parsed.error.issues[0]?.message ?? "not a cursor"}`);
  return parsed.data;
}

/** A follow response's bounds on a host that buffers responses (`followMode: window`). */
export interface FollowWindow {
  /** The longest a response lasts. */
  ms: number;
  /** How long it goes on after its first event other than `status`, to take a burst in one answer. */
  lingerMs: number;
}

/** Ends a windowed response: the follower follows again at once, from the id of the last event it got. */
export const CONTINUE: Omit<FollowMessage, "id"> = {
  event: "continue",
  data: JSON.stringify({ reason: "this host answers follows in windows: follow again from the cursor" }),
};

const TIMED_OUT = Symbol("timed out");

/** The iterator's next result, or TIMED_OUT after `ms` (the pending next is then left to settle alone). */
function nextWithin<T>(it: AsyncIterator<T>, ms: number): Promise<IteratorResult<T> | typeof TIMED_OUT> {
  const next = it.next();
  next.catch(() => {}); // the source stops on abort; a rejection after the window ended concerns nobody
  let timer: ReturnType<typeof setTimeout> | undefined;
  const out = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), Math.max(0, ms));
  });
  return Promise.race([next, out]).finally(() => clearTimeout(timer));
}

/**
 * Serves a follow stream as server-sent events: the headers at once (before the first event, which may be
 * hours away), then each message, and a `: keep-alive` comment every `keepAliveMs` whatever else is sent.
 * `abort` is aborted when the client goes away (the source of `messages` stops on it) or the stream ends.
 * With a `window`, the response ends within its bounds with a `continue` event (see FollowWindow); nothing
 * is lost: a message taken from the source after that was never sent, and the follower's cursor is before it.
 */
export function followStream(
  c: Context,
  keepAliveMs: number,
  abort: AbortController,
  messages: AsyncIterable<FollowMessage>,
  window?: FollowWindow,
): Response {
  // nginx and the like buffer responses unless told not to; a buffered follow stream shows nothing.
  c.header("X-Accel-Buffering", "no");
  return streamSSE(c, async (stream) => {
    stream.onAbort(() => abort.abort());
    // Writes are queued whole, in order, so a comment never lands inside an event.
    const timer = setInterval(() => void stream.write(KEEP_ALIVE), keepAliveMs);
    try {
      if (!window) {
        for await (const m of messages) await stream.writeSSE(m);
        return;
      }
      const it = messages[Symbol.asyncIterator]();
      let ends = Date.now() + window.ms;
      let lingering = false;
      for (;;) {
        const next = await nextWithin(it, ends - Date.now());
        if (next === TIMED_OUT) {
          await stream.writeSSE(CONTINUE);
          return;
        }
        if (next.done) return;
        await stream.writeSSE(next.value);
        if (!lingering && next.value.event !== "status") {
          lingering = true;
          ends = Math.min(ends, Date.now() + window.lingerMs);
        }
      }
    } finally {
      clearInterval(timer);
      abort.abort();
    }
  });
}
