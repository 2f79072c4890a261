import { z } from "@hono/zod-openapi";
import { ENV_NAME, MAX_NODE_LABELS, normalizeLabels } from "../domain/labels.ts";

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
      additionalProperties: { type: "string" },
      example: { gpu: "a100", zone: "rack-4" },
    });

/** Environment variables as a map; names must be valid POSIX names. */
export const EnvInput = z
  .record(z.string(), z.string())
  .refine((env) => Object.keys(env).every((k) => ENV_NAME.test(k)), {
    message: "variable names must match [A-Za-z_][A-Za-z0-9_]*",
  })
  .openapi({ type: "object", additionalProperties: { type: "string" } });

export const StringMap = z.record(z.string(), z.string());
