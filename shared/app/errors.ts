import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ZodError } from "zod";
import type { ErrorEnvelope } from "../contracts/common.ts";
import { BerthError, ERROR_STATUS, ErrorCode, type FieldIssue, invalidRequest } from "../domain/errors.ts";
import type { Logger } from "../ports/logger.ts";
import { StorageContentionError, StorageUnavailableError } from "../ports/store.ts";

/** What the HTTP layer's own exceptions mean, in Berth's codes and words. */
function fromHttpException(err: HTTPException): BerthError {
  switch (err.status) {
    case 400:
      return invalidRequest(
        /json/i.test(err.message)
          ? "request body is empty or not valid JSON"
          : `invalid request: ${err.message}`,
      );
    case 413:
      return new BerthError(ErrorCode.PayloadTooLarge, err.message);
    case 415:
      return invalidRequest("unsupported Content-Type: send the body as application/json");
    case 401:
      return new BerthError(ErrorCode.Unauthorized, err.message);
    case 403:
      return new BerthError(ErrorCode.Forbidden, err.message);
    case 404:
      return new BerthError(ErrorCode.NotFound, err.message);
    default:
      return new BerthError(err.status >= 500 ? ErrorCode.Unknown : ErrorCode.InvalidRequest, err.message);
  }
}

/**
 * The single onError of the app: a BerthError keeps its code; anything else is logged with the
 * request id and answered as an opaque 500, so no stack trace or internal detail reaches a caller.
 */
export function errorHandler(logger: Logger) {
  return (err: Error, c: Context) => {
    const gpud = c.get("errorStyle") === "gpud";
    let berth: BerthError;
    if (err instanceof BerthError) berth = err;
    else if (err instanceof HTTPException) berth = fromHttpException(err);
    else if (err instanceof StorageUnavailableError) {
      logger.warn("storage unavailable", { requestId: c.get("requestId"), error: err.message });
      berth = new BerthError(
        ErrorCode.Unavailable,
        "the control plane cannot reach its database right now; try again shortly",
        undefined,
        { retryAfterSeconds: 2 },
      );
    } else if (err instanceof StorageContentionError) {
      berth = new BerthError(
        ErrorCode.Conflict,
        "the object kept changing while this request was applied; try again",
        undefined,
        {
          retryAfterSeconds: 1,
        },
      );
    } else {
      const requestId = c.get("requestId") as string | undefined;
      logger.error("unhandled error", { requestId, error: err.message, stack: err.stack });
      berth = new BerthError(
        ErrorCode.Unknown,
        gpud
          ? "failed to login, please try again"
          : `internal error; quote request id ${requestId ?? "-"} when reporting it`,
      );
    }
    const status = ERROR_STATUS[berth.code] as ContentfulStatusCode;
    if (berth.retryAfterSeconds !== undefined) c.header("Retry-After", String(berth.retryAfterSeconds));
    return c.json(gpud ? gpudError(berth) : envelope(berth), status);
  };
}

/**
 * GPUd decodes an error body into a map of strings before it looks at the status, so on its routes an
 * error is a flat object of strings: `code`/`status` the code, `message`/`error` the text.
 */
export const gpudError = (err: BerthError) => ({
  code: err.code,
  status: err.code,
  message: err.message,
  error: err.message,
});

export const envelope = (err: BerthError): ErrorEnvelope => ({
  error: {
    code: err.code,
    message: err.message,
    ...(err.details === undefined ? {} : { details: err.details }),
  },
});

const WHERE = {
  json: "request body",
  query: "query parameter",
  param: "path parameter",
  header: "header",
} as const;

/** Turns zod issues into field paths and one readable sentence. */
export function validationError(target: string, error: ZodError): BerthError {
  const issues: FieldIssue[] = error.issues.map((i) => ({
    path: i.path.map(String).join(".") || "(root)",
    message: i.message,
  }));
  const where = WHERE[target as keyof typeof WHERE] ?? target;
  const summary = issues.map((i) => (i.path === "(root)" ? i.message : `${i.path}: ${i.message}`)).join("; ");
  return invalidRequest(`invalid ${where}: ${summary}`, issues);
}
