import { z } from "@hono/zod-openapi";
import { MAX_ID_LENGTH } from "../domain/bounds.ts";

/** The one error envelope every non-2xx response carries. */
export const ErrorEnvelope = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: "InvalidRequest" }),
      message: z.string().openapi({ example: "invalid request body: name: expected string" }),
      details: z.unknown().optional(),
    }),
  })
  .openapi("Error");
export type ErrorEnvelope = z.infer<typeof ErrorEnvelope>;

export const MAX_PAGE_SIZE = 500;
/** Page tokens are a few hundred characters (a signed cursor of bounded keys). */
const MAX_PAGE_TOKEN_LENGTH = 2048;
export const DEFAULT_PAGE_SIZE = 100;

/** `?pageSize=&pageToken=` on every list endpoint. */
export const PageQuery = z.object({
  pageSize: z.coerce
    .number({ error: "must be a whole number" })
    .int("must be a whole number")
    .min(1, "must be at least 1")
    .max(MAX_PAGE_SIZE, `must be at most ${MAX_PAGE_SIZE}`)
    .default(DEFAULT_PAGE_SIZE)
    .openapi({ param: { name: "pageSize", in: "query" }, example: 100 }),
  pageToken: z
    .string()
    .max(MAX_PAGE_TOKEN_LENGTH, `must be at most ${MAX_PAGE_TOKEN_LENGTH} characters`)
    .optional()
    .openapi({ param: { name: "pageToken", in: "query" }, description: "opaque token from a previous page" }),
});

/** `{items, nextPageToken?}`: the body of every list response. */
export const pageOf = <T extends z.ZodType>(item: T) =>
  z.object({
    items: z.array(item),
    nextPageToken: z.string().optional(),
  });

/**
 * An id or a name given by a caller (path, query, body): 1-128 characters, no control characters. Longer
 * ones are refused before any storage call (they could not be a key; Berth's ids are 26 characters).
 */
export const Id = z
  .string()
  .min(1, "must not be empty")
  .max(MAX_ID_LENGTH, `must be at most ${MAX_ID_LENGTH} characters`)
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
  .regex(/^[^\u0000-\u001f\u007f]*$/, "must not contain control characters");

/** `{id}` in a path. */
export const IdParam = z.object({
  id: Id.openapi({ param: { name: "id", in: "path" } }),
});

export { text } from "../domain/bounds.ts";

/** A `true`/`false` query parameter, as a boolean (`fallback` when it is absent). */
export const BooleanQuery = (name: string, fallback: boolean, description?: string) =>
  z
    .enum(["true", "false"])
    .default(fallback ? "true" : "false")
    .transform((v) => v === "true")
    .openapi({ param: { name, in: "query" }, ...(description ? { description } : {}) });
