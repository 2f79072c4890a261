/**
 * Server-sent events as Berth sends them (follow streams of job output and events), read the same way by the
 * CLI (Node) and the dashboard (the browser): plain web streams, no Node modules.
 */

/** One server-sent event. */
export interface SseEvent {
  event: string;
  data: string;
  id?: string;
}

/**
 * Reads a text/event-stream body event by event (the subset Berth sends: event, id, data; comments such as
 * `: keep-alive` are skipped). `onBytes` is called on every chunk that arrives, comments included.
 */
export async function* readSse(
  body: ReadableStream<Uint8Array>,
  onBytes: () => void = () => {},
): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder();
  let buffer = "";
  let current: SseEvent = { event: "message", data: "" };
  // A reader rather than `for await` over the stream: Safari's streams are not async-iterable.
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value: chunk } = await reader.read();
      if (done) return;
      yield* lines(chunk);
    }
  } finally {
    // The caller stopped early (or the stream failed): let go of the connection.
    reader.cancel().catch(() => {});
  }

  function* lines(chunk: Uint8Array): Generator<SseEvent> {
    onBytes();
    buffer += decoder.decode(chunk, { stream: true });
    let newline = buffer.indexOf("\n");
    while (newline !== -1) {
      const line = buffer.slice(0, newline).replace(/\r$/, "");
      buffer = buffer.slice(newline + 1);
      if (line === "") {
        if (current.data !== "" || current.event !== "message") yield current;
        current = { event: "message", data: "" };
      } else if (!line.startsWith(":")) {
        const colon = line.indexOf(":");
        const field = colon === -1 ? line : line.slice(0, colon);
        const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") current.event = value;
        else if (field === "id") current.id = value;
        else if (field === "data") current.data = current.data ? `${current.data}\n${value}` : value;
      }
      newline = buffer.indexOf("\n");
    }
  }
}
