import { z } from "@hono/zod-openapi";
import { ErrorEnvelope } from "../contracts/common.ts";

const DESCRIPTIONS = {
  400: "invalid request (code InvalidRequest; `details` lists the offending fields)",
  401: "missing, malformed, unknown, expired or revoked credential (code Unauthorized)",
  403: "the credential's role does not allow this (code Forbidden)",
  404: "no such object in this workspace (code NotFound)",
  409: "conflicts with the object's current state (code Conflict)",
  413: "body larger than the limit (code PayloadTooLarge)",
  429: "quota exceeded (code QuotaExceeded)",
  500: "internal error (code Unknown; the message names the request id to quote)",
  503: "the database cannot be reached right now (code Unavailable, with Retry-After)",
} as const;

/** OpenAPI response entries for the error statuses a route can answer, all in the one envelope. */
export function errorResponses<S extends keyof typeof DESCRIPTIONS>(...statuses: S[]) {
  return Object.fromEntries(
    statuses.map((s) => [
      s,
      { description: DESCRIPTIONS[s], content: { "application/json": { schema: ErrorEnvelope } } },
    ]),
  ) as unknown as Record<
    S,
    { description: string; content: { "application/json": { schema: typeof ErrorEnvelope } } }
  >;
}

/** A JSON request body that must be present and must be JSON. */
export const jsonBody = <T>(schema: T) =>
  ({ required: true, content: { "application/json": { schema } } }) as const;

export const json = <T>(description: string, schema: T) => ({
  description,
  content: { "application/json": { schema } },
});

export const bearerSecurity = [{ bearer: [] }];

type Operation = {
  parameters?: unknown[];
  requestBody?: unknown;
  responses?: Record<string, unknown>;
};

/**
 * Adds to every operation of a generated document the errors that come from the app rather than the route:
 * 400 and 413 where there is a body (malformed JSON, too deep, too large), 400 where there are parameters
 * (ids too long, bad values), and 500 and 503 everywhere but liveness. A route's own entries are kept.
 */
export function withAppErrors<D extends { paths?: object }>(doc: D): D {
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const op of Object.values(item as object) as Operation[]) {
      if (typeof op !== "object" || op === null || !("responses" in op)) continue;
      const add: (keyof typeof DESCRIPTIONS)[] = [];
      if (op.requestBody) add.push(400, 413);
      if (op.parameters?.length) add.push(400);
      if (path !== "/healthz") add.push(500, 503);
      op.responses ??= {};
      const responses = op.responses;
      for (const status of add) {
        responses[status] ??= {
          description: DESCRIPTIONS[status],
          content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
        };
      }
    }
  }
  return doc;
}

/** A server-sent event stream's response. */
export const sse = (description: string) => ({
  description,
  content: { "text/event-stream": { schema: z.string() } },
});
