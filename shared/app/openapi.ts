import { ErrorEnvelope } from "../contracts/common.ts";

const DESCRIPTIONS = {
  400: "invalid request (code InvalidRequest; `details` lists the offending fields)",
  401: "missing, malformed, unknown, expired or revoked credential (code Unauthorized)",
  403: "the credential's role does not allow this (code Forbidden)",
  404: "no such object in this workspace (code NotFound)",
  409: "conflicts with the object's current state (code Conflict)",
  413: "body larger than the limit (code PayloadTooLarge)",
  429: "quota exceeded (code QuotaExceeded)",
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
