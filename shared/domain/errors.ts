/**
 * Domain errors. Every error that crosses the HTTP boundary is a BerthError with a stable `code`;
 * the single `onError` of the app maps the code to a status (ERROR_STATUS) and one JSON envelope.
 */

/** Stable error codes on the wire: the Launcher set plus Berth's own. */
export const ErrorCode = {
  Unknown: "Unknown",
  RequestNotSupported: "RequestNotSupported",
  InvalidRequest: "InvalidRequest",
  Unauthorized: "Unauthorized",
  Forbidden: "Forbidden",
  NotFound: "NotFound",
  JobNotFound: "JobNotFound",
  JobOutputNotFound: "JobOutputNotFound",
  Conflict: "Conflict",
  InvalidJobState: "InvalidJobState",
  JobNotRunning: "JobNotRunning",
  JobControlFailure: "JobControlFailure",
  PayloadTooLarge: "PayloadTooLarge",
  HeadersTooLarge: "HeadersTooLarge",
  RequestTimeout: "RequestTimeout",
  QuotaExceeded: "QuotaExceeded",
  NoCapacity: "NoCapacity",
  Timeout: "Timeout",
  Unavailable: "Unavailable",
  SecretInUse: "SecretInUse",
  NamespaceDeleting: "NamespaceDeleting",
  ApplicationDeleting: "ApplicationDeleting",
  DeviceBusy: "DeviceBusy",
  /** Labs (or file servers) are not set up in this workspace (specs/labs.md). */
  NotConfigured: "NotConfigured",
  /** Nublado's lab errors (specs/labs.md §4). */
  UnknownImage: "UnknownImage",
  InvalidLabSize: "InvalidLabSize",
  InsufficientQuota: "InsufficientQuota",
  OperationInProgress: "OperationInProgress",
  LabExists: "LabExists",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** HTTP status for each code: the one place where codes meet statuses. */
export const ERROR_STATUS = {
  Unknown: 500,
  RequestNotSupported: 400,
  InvalidRequest: 400,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  JobNotFound: 404,
  JobOutputNotFound: 404,
  Conflict: 409,
  InvalidJobState: 409,
  JobNotRunning: 409,
  JobControlFailure: 502,
  PayloadTooLarge: 413,
  HeadersTooLarge: 431,
  RequestTimeout: 408,
  QuotaExceeded: 429,
  NoCapacity: 503,
  Timeout: 504,
  Unavailable: 503,
  SecretInUse: 409,
  NamespaceDeleting: 409,
  ApplicationDeleting: 409,
  DeviceBusy: 409,
  NotConfigured: 404,
  UnknownImage: 400,
  InvalidLabSize: 400,
  InsufficientQuota: 403,
  OperationInProgress: 409,
  LabExists: 409,
} as const satisfies Record<ErrorCode, number>;

export type ErrorStatus = (typeof ERROR_STATUS)[ErrorCode];

/** One offending field of a rejected request. `path` is dotted (`labels.gpu`, `items.0.name`). */
export interface FieldIssue {
  path: string;
  message: string;
}

/** Base class of every error Berth reports to a caller. */
export class BerthError extends Error {
  readonly code: ErrorCode;
  readonly details: unknown;
  /** When set, the answer carries `Retry-After` (a race lost too often, a database away). */
  readonly retryAfterSeconds?: number;

  constructor(
    code: ErrorCode,
    message: string,
    details?: unknown,
    opts: { retryAfterSeconds?: number } = {},
  ) {
    super(message);
    this.name = "BerthError";
    this.code = code;
    this.details = details;
    this.retryAfterSeconds = opts.retryAfterSeconds;
  }

  get status(): ErrorStatus {
    return ERROR_STATUS[this.code];
  }
}

export const invalidRequest = (message: string, details?: unknown) =>
  new BerthError(ErrorCode.InvalidRequest, message, details);
export const unauthorized = (message: string) => new BerthError(ErrorCode.Unauthorized, message);
export const forbidden = (message: string) => new BerthError(ErrorCode.Forbidden, message);
export const notFound = (message: string) => new BerthError(ErrorCode.NotFound, message);
export const conflict = (message: string, details?: unknown) =>
  new BerthError(ErrorCode.Conflict, message, details);

/** 409 Conflict with Retry-After: the object kept changing under this request; trying again will do. */
export const keptChanging = (what: string) =>
  new BerthError(
    ErrorCode.Conflict,
    `${what} kept changing while this request was applied; try again`,
    undefined,
    {
      retryAfterSeconds: 1,
    },
  );

/** 503 Unavailable with Retry-After: a service this request needs (KMS, the database) did not answer. */
export const unavailable = (message: string) =>
  new BerthError(ErrorCode.Unavailable, message, undefined, { retryAfterSeconds: 5 });

export const isBerthError = (err: unknown): err is BerthError => err instanceof BerthError;
