import { z } from "@hono/zod-openapi";
import { jsonBytes } from "../domain/bounds.ts";
import { ENV_NAME, MAX_NODE_LABELS, normalizeLabels } from "../domain/labels.ts";
import { text } from "./common.ts";

/**
 * A label set in a request body: validated with the node-label rules and normalised (the managed
 * prefix stripped). A violation is reported on the `labels` path with the rule that failed.
 */
export const LabelsInput = (max = MAX_NODE_LABELS) =>
  z
    .record(z.string(), z.string())
    .transform((input, ctx) => {
      const check = normalizeLabels(input, max);
      if (!check.ok) {
        ctx.addIssue({ code: "custom", message: check.error });
        return z.NEVER;
      }
      return check.labels;
    })
    .openapi({
      type: "object",
      additionalProperties: { type: "string", maxLength: 63 },
      maxProperties: max,
      example: { gpu: "a100", zone: "rack-4" },
    });

export const MAX_ENV_VARS = 64;
export const MAX_ENV_NAME_LENGTH = 128;
export const MAX_ENV_VALUE_BYTES = 4096;
/** All of a token's variables together: a device item holds a copy (with its machine info and labels). */
export const MAX_ENV_BYTES = 32 * 1024;

/**
 * Environment variables as a map; names must be valid POSIX names. At most 64 of them, names of at most
 * 128 characters, values of at most 4 KiB, and 32 KiB in all (as JSON).
 */
export const EnvInput = z
  .record(
    z.string().max(MAX_ENV_NAME_LENGTH, `variable names must be at most ${MAX_ENV_NAME_LENGTH} characters`),
    text(MAX_ENV_VALUE_BYTES),
  )
  .refine((env) => Object.keys(env).every((k) => ENV_NAME.test(k)), {
    message: "variable names must match [A-Za-z_][A-Za-z0-9_]*",
  })
  .refine((env) => Object.keys(env).length <= MAX_ENV_VARS, {
    message: `at most ${MAX_ENV_VARS} variables are allowed`,
  })
  .refine((env) => jsonBytes(env) <= MAX_ENV_BYTES, {
    message: `the variables must be at most ${MAX_ENV_BYTES} bytes in all (as JSON)`,
  })
  .openapi({
    type: "object",
    additionalProperties: { type: "string", maxLength: MAX_ENV_VALUE_BYTES },
    maxProperties: MAX_ENV_VARS,
  });

export const StringMap = z.record(z.string(), z.string());
