import type { z } from "zod";

/**
 * Key builders for the single table. Every entity's item is built here, so the key design in
 * docs/data-model.md has exactly one implementation.
 */
export const keys = {
  workspace: (ws: string) => ({ pk: `WS#${ws}`, sk: "WS" }),
  apiKey: (id: string) => ({ pk: `APIKEY#${id}`, sk: "APIKEY" }),
  apiKeysOf: (ws: string) => `WS#${ws}#APIKEYS`,
} as const;

export const KEY_ATTRIBUTES = ["pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk"] as const;

/** Thrown when an item read from the table does not match its schema: a bug or a bad migration. */
export class CorruptItemError extends Error {
  constructor(what: string, item: Record<string, unknown>, issues: string) {
    super(`stored ${what} ${String(item.pk)}/${String(item.sk)} does not match its schema: ${issues}`);
    this.name = "CorruptItemError";
  }
}

/** Parses an item read from the table, dropping the key attributes. */
export function parseItem<S extends z.ZodType>(
  schema: S,
  what: string,
  item: Record<string, unknown>,
): z.infer<S> {
  const result = schema.safeParse(item);
  if (!result.success) {
    throw new CorruptItemError(
      what,
      item,
      result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "),
    );
  }
  return result.data;
}

export const isConditionFailure = (err: unknown): boolean =>
  (err as { name?: string }).name === "ConditionalCheckFailedException";
