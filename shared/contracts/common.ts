import { z } from "@hono/zod-openapi";

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
    .optional()
    .openapi({ param: { name: "pageToken", in: "query" }, description: "opaque token from a previous page" }),
});

/** `{items, nextPageToken?}`: the body of every list response. */
export const pageOf = <T extends z.ZodType>(item: T) =>
  z.object({
    items: z.array(item),
    nextPageToken: z.string().optional(),
  });

export const IdParam = z.object({
  id: z
    .string()
    .min(1)
    .openapi({ param: { name: "id", in: "path" } }),
});
