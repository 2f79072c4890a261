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

/**
 * Serves a follow stream as server-sent events: the headers at once (before the first event, which may be
 * hours away), then each message, and a `: keep-alive` comment every `keepAliveMs` whatever else is sent.
 * `abort` is aborted when the client goes away (the source of `messages` stops on it) or the stream ends.
 */
export function followStream(
  c: Context,
  keepAliveMs: number,
  abort: AbortController,
  messages: AsyncIterable<FollowMessage>,
): Response {
  // nginx and the like buffer responses unless told not to; a buffered follow stream shows nothing.
  c.header("X-Accel-Buffering", "no");
  return streamSSE(c, async (stream) => {
    stream.onAbort(() => abort.abort());
    // Writes are queued whole, in order, so a comment never lands inside an event.
    const timer = setInterval(() => void stream.write(KEEP_ALIVE), keepAliveMs);
    try {
      for await (const m of messages) await stream.writeSSE(m);
    } finally {
      clearInterval(timer);
      abort.abort();
    }
  });
}
