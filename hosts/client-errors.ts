import { maxHeaderSize, type Server, STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import { envelope } from "../shared/app/errors.ts";
import { BerthError, ErrorCode } from "../shared/domain/errors.ts";

/**
 * What Node's HTTP parser refuses before the app sees a request (headers over its limit, an unknown method,
 * a malformed request line or header), in Berth's codes and words. Node would answer these with a bare
 * `400`/`431` and no body.
 */
export function clientErrorOf(err: NodeJS.ErrnoException, maxHeaderBytes: number): BerthError {
  switch (err.code) {
    case "HPE_HEADER_OVERFLOW":
      return new BerthError(
        ErrorCode.HeadersTooLarge,
        `the request line and headers are larger than ${maxHeaderBytes} bytes`,
      );
    case "HPE_INVALID_METHOD":
      return new BerthError(ErrorCode.RequestNotSupported, "unknown HTTP method");
    case "HPE_CHUNK_EXTENSIONS_OVERFLOW":
      return new BerthError(ErrorCode.PayloadTooLarge, "chunk extensions are too large");
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return new BerthError(ErrorCode.RequestTimeout, "the request was not received in time");
    default:
      return new BerthError(ErrorCode.InvalidRequest, `malformed HTTP request (${err.code ?? err.message})`);
  }
}

/**
 * Answers the requests Node's parser refuses in the one JSON envelope, then closes the connection (a
 * connection the parser gave up on cannot carry another request).
 */
export function answerClientErrors(server: Pick<Server, "on">, maxHeaderBytes = maxHeaderSize) {
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === "ECONNRESET" || !socket.writable) {
      socket.destroy();
      return;
    }
    const error = clientErrorOf(err, maxHeaderBytes);
    const body = JSON.stringify(envelope(error));
    socket.end(
      `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status]}\r\n` +
        "Content-Type: application/json\r\n" +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        "Connection: close\r\n\r\n" +
        body,
    );
  });
}
