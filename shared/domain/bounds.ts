import { z } from "zod";

/**
 * The bounds every request is held to, so that no input can make a write the engine refuses. The tightest
 * engine is DynamoDB: an item is at most 400 KB, a partition key 2048 bytes and a sort key 1024, maps nest
 * at most 32 levels, and numbers are finite (the document client also refuses numbers beyond 2^53). Each
 * field of a body is bounded (count, length, range) and what one item holds is bounded as a whole, with a
 * margin: see the budgets next to the schemas (contracts/) that use these.
 */

/** DynamoDB's limit on one item, for the budgets below (and the tests that check them). */
export const MAX_ITEM_BYTES = 400 * 1024;

/**
 * Ids and names in paths, queries and bodies: Berth's own ids are 26 characters and names 63; anything
 * longer than this is refused before it reaches a key (4 bytes per character still fits a 1024-byte key).
 */
export const MAX_ID_LENGTH = 128;

/** Nesting of a JSON body (objects and arrays), checked on the text before it is parsed. */
export const MAX_JSON_DEPTH = 32;

/**
 * What a job (its body as JSON) or a reservation's `data` may weigh: the job item, the reservation and
 * its feed entry each hold about one copy, and a reservation item also holds a result (at most as much
 * data again, and an error); 2 × 96 KiB + 32 KiB stays near half of an item.
 */
export const MAX_SPEC_BYTES = 96 * 1024;

/** Free-form JSON that is stored as given (a job's `metadata`). */
export const MAX_METADATA_BYTES = 16 * 1024;

/** Bytes of `s` in UTF-8 (what every engine stores and counts). */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const code = s.charCodeAt(i);
    if (code < 0x80) n += 1;
    else if (code < 0x800) n += 2;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < s.length) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

/** Bytes of `value` as JSON text (how a reservation's data is stored, and an upper bound of an item). */
export const jsonBytes = (value: unknown): number => utf8Length(JSON.stringify(value) ?? "");

/**
 * Whether JSON text nests objects and arrays deeper than `max`, found by one scan of the text (strings
 * skipped), so a body nested thousands deep is refused before anything recursive reads it.
 */
export function nestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 0x5c)
        i++; // backslash: skip the escaped character
      else if (ch === 0x22) inString = false;
    } else if (ch === 0x22) inString = true;
    else if (ch === 0x7b || ch === 0x5b) {
      if (++depth > max) return true;
    } else if (ch === 0x7d || ch === 0x5d) depth--;
  }
  return false;
}

/** Keys that would reach an object's prototype (or be dropped by a parser that guards against that). */
export const isPrototypeKey = (key: string): boolean => key === "__proto__";

/**
 * The path (`["a", 0, "b"]`) of the first key of `value` that is `__proto__`, if any. JSON.parse keeps such a
 * key as data, but most code that copies objects (spreads, Object.assign, zod) drops it or turns it into
 * the prototype: no body may carry one.
 */
export function prototypeKeyPath(
  value: unknown,
  path: (string | number)[] = [],
): (string | number)[] | undefined {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = prototypeKeyPath(value[i], [...path, i]);
      if (found) return found;
    }
  } else if (typeof value === "object" && value !== null) {
    for (const key of Object.keys(value)) {
      if (isPrototypeKey(key)) return [...path, key];
      const found = prototypeKeyPath((value as Record<string, unknown>)[key], [...path, key]);
      if (found) return found;
    }
  }
  return undefined;
}

/**
 * Why a number cannot be stored as given, if it cannot: engines keep finite numbers, and DynamoDB's
 * document client refuses integers beyond 2^53 and DynamoDB numbers closer to 0 than 1e-130.
 */
export function unstorableNumber(n: number): string | undefined {
  if (!Number.isFinite(n)) return "must be a finite number";
  if (Math.abs(n) > Number.MAX_SAFE_INTEGER)
    return `must be between -${Number.MAX_SAFE_INTEGER} and ${Number.MAX_SAFE_INTEGER}`;
  if (n !== 0 && Math.abs(n) < 1e-100) return "is too close to 0";
  return undefined;
}

/**
 * A string of at most `max` bytes of UTF-8 (so at most `max` characters): what the item budgets count.
 * The character check answers the common case; the byte count only runs when it could matter.
 */
export const text = (max: number) =>
  z
    .string()
    .max(max, `must be at most ${max} characters`)
    .refine((s) => s.length * 3 <= max || utf8Length(s) <= max, `must be at most ${max} bytes (UTF-8)`);

/**
 * The first thing in free-form JSON that an engine could not store as given, with where it is: a number
 * out of range, or an empty key (DynamoDB names must not be empty).
 */
export function unstorableJson(
  value: unknown,
  path: (string | number)[] = [],
): { path: (string | number)[]; message: string } | undefined {
  if (typeof value === "number") {
    const why = unstorableNumber(value);
    return why ? { path, message: why } : undefined;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = unstorableJson(value[i], [...path, i]);
      if (found) return found;
    }
  } else if (typeof value === "object" && value !== null) {
    for (const [key, v] of Object.entries(value)) {
      if (key === "") return { path, message: "keys must not be empty" };
      const found = unstorableJson(v, [...path, key]);
      if (found) return found;
    }
  }
  return undefined;
}

/** A free-form JSON object stored as given: at most `maxBytes` as JSON, and storable by every engine. */
export const JsonObject = (maxBytes: number) =>
  z
    .record(z.string().max(256, "keys must be at most 256 characters"), z.unknown())
    .superRefine((obj, ctx) => {
      const size = jsonBytes(obj);
      if (size > maxBytes) {
        ctx.addIssue({ code: "custom", message: `must be at most ${maxBytes} bytes as JSON (got ${size})` });
        return;
      }
      const bad = unstorableJson(obj);
      if (bad) ctx.addIssue({ code: "custom", path: bad.path, message: bad.message });
    });
