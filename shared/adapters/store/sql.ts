import type { Item, Key, QueryInput, QueryPage, SortKeyRange } from "../../ports/store.ts";
import { KEY_ATTRIBUTES } from "../../ports/store.ts";
import { InvalidChangeError, queryKeys } from "./evaluate.ts";

/**
 * What the SQL engines share: one `items` table holding each item as JSON, with its key, index and ttl
 * attributes copied into columns so that queries use B-tree indexes. Statements are written with `?`
 * placeholders (PostgreSQL's adapter numbers them).
 */

/** The columns copied out of the item, in order. */
export const COLUMNS = [...KEY_ATTRIBUTES, "ttl"] as const;

/** The column values of an item; key and index attributes must be non-empty strings, as in DynamoDB. */
export function columnsOf(item: Item): (string | number | null)[] {
  return COLUMNS.map((name) => {
    const v = item[name];
    if (v === undefined || v === null) {
      if (name === "pk" || name === "sk") throw new InvalidChangeError(`the item has no ${name}`);
      return null;
    }
    if (name === "ttl") {
      if (typeof v !== "number") throw new InvalidChangeError("ttl must be a number (epoch seconds)");
      return v;
    }
    if (typeof v !== "string" || v === "")
      throw new InvalidChangeError(`${name} must be a non-empty string, got ${JSON.stringify(v)}`);
    return v;
  });
}

/** The smallest string greater than every string that starts with `prefix`. */
const successor = (prefix: string) =>
  prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);

function rangeSql(col: string, range: SortKeyRange | undefined): { sql: string[]; params: string[] } {
  if (!range) return { sql: [], params: [] };
  if ("prefix" in range) {
    if (range.prefix === "") return { sql: [], params: [] };
    return { sql: [`${col} >= ?`, `${col} < ?`], params: [range.prefix, successor(range.prefix)] };
  }
  if ("between" in range) return { sql: [`${col} BETWEEN ? AND ?`], params: range.between };
  const [op, value] = Object.entries(range)[0] as [string, string];
  const sqlOp = { gt: ">", ge: ">=", lt: "<", le: "<=" }[op]!;
  return { sql: [`${col} ${sqlOp} ?`], params: [value] };
}

/** SELECT of one page of a query; reads one row past `limit` so the caller knows whether more follow. */
export function querySql(input: QueryInput): { text: string; params: unknown[] } {
  const k = queryKeys(input);
  const where = [`${k.pk} = ?`];
  const params: unknown[] = [input.partition];
  if (input.index) where.push(`${k.sk} IS NOT NULL`);
  const range = rangeSql(k.sk, input.range);
  where.push(...range.sql);
  params.push(...range.params);
  const desc = input.order === "desc";
  // A total order: the sort key, then (for an index, where sort keys may repeat) the table key.
  const order = input.index ? [k.sk, "pk", "sk"] : ["sk"];
  if (input.after) {
    const values = order.map((col) => {
      const v = input.after![col];
      if (typeof v !== "string") throw new InvalidChangeError(`the cursor has no ${col}`);
      return v;
    });
    where.push(`(${order.join(", ")}) ${desc ? "<" : ">"} (${order.map(() => "?").join(", ")})`);
    params.push(...values);
  }
  let text = `SELECT body FROM items WHERE ${where.join(" AND ")} ORDER BY ${order
    .map((col) => `${col} ${desc ? "DESC" : "ASC"}`)
    .join(", ")}`;
  if (input.limit !== undefined) {
    text += " LIMIT ?";
    params.push(input.limit + 1);
  }
  return { text, params };
}

/** A page from rows read with one past `limit` (see querySql): `last` only when more follow. */
export function pageOfRows(items: Item[], limit: number | undefined): QueryPage {
  if (limit === undefined || items.length <= limit) return { items };
  items.length = limit;
  return { items, last: cursorOf(items[items.length - 1]!) };
}

/** The cursor for an item: its key attributes (what `querySql` resumes after). */
export function cursorOf(item: Item): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of KEY_ATTRIBUTES) if (item[name] !== undefined) out[name] = item[name];
  return out;
}

export const keyParams = (key: Key) => [key.pk, key.sk];

export const SCAN_SQL = "SELECT body FROM items WHERE (pk, sk) > (?, ?) ORDER BY pk, sk LIMIT ?";
