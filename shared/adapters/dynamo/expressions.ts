import type { Changes, Cond, Path } from "../../ports/store.ts";

/**
 * Compiles the store's conditions and changes into DynamoDB expressions. Every attribute name goes
 * through a `#n` placeholder (reserved words such as `state` and `ttl` need it) and every value through
 * a `:v` placeholder; one Expression collects both for one request.
 */
export class Expression {
  readonly names: Record<string, string> = {};
  readonly values: Record<string, unknown> = {};
  private readonly nameOf = new Map<string, string>();
  private next = 0;

  path(path: Path): string {
    return path
      .split(".")
      .map((part) => {
        let ph = this.nameOf.get(part);
        if (!ph) {
          ph = `#n${this.nameOf.size}`;
          this.nameOf.set(part, ph);
          this.names[ph] = part;
        }
        return ph;
      })
      .join(".");
  }

  value(v: unknown): string {
    const ph = `:v${this.next++}`;
    this.values[ph] = asMaps(v);
    return ph;
  }

  condition(cond: Cond): string {
    switch (cond.op) {
      case "exists":
        return `attribute_exists(${this.path(cond.path)})`;
      case "absent":
        return `attribute_not_exists(${this.path(cond.path)})`;
      case "eq":
      case "lt":
      case "le":
      case "gt":
      case "ge": {
        const op = { eq: "=", lt: "<", le: "<=", gt: ">", ge: ">=" }[cond.op];
        return `${this.path(cond.path)} ${op} ${this.value(cond.value)}`;
      }
      case "in":
        if (cond.values.length === 0) return this.never();
        return `${this.path(cond.path)} IN (${cond.values.map((v) => this.value(v)).join(", ")})`;
      case "ltAttr":
        return `${this.path(cond.path)} < ${this.path(cond.other)}`;
      case "and":
      case "or":
        if (cond.all.length === 0) return cond.op === "and" ? this.always() : this.never();
        // One operand needs no parentheses of its own: DynamoDB refuses redundant ones (`((a))`).
        if (cond.all.length === 1) return this.condition(cond.all[0]!);
        return cond.all.map((x) => `(${this.condition(x)})`).join(cond.op === "and" ? " AND " : " OR ");
      case "not":
        return `NOT (${this.condition(cond.cond)})`;
    }
  }

  /** A condition that always holds: the key attribute `pk` exists or does not. */
  private always() {
    const pk = this.path("pk");
    return `(attribute_exists(${pk}) OR attribute_not_exists(${pk}))`;
  }

  private never() {
    const pk = this.path("pk");
    return `(attribute_exists(${pk}) AND attribute_not_exists(${pk}))`;
  }

  /** SET and REMOVE clauses; `add` becomes `SET p = if_not_exists(p, 0) + n` (works on map paths too). */
  update(changes: Changes): string {
    const set: string[] = [];
    for (const [path, value] of Object.entries(changes.set ?? {})) {
      if (value !== undefined) set.push(`${this.path(path)} = ${this.value(value)}`);
    }
    for (const [path, n] of Object.entries(changes.add ?? {})) {
      const p = this.path(path);
      set.push(`${p} = if_not_exists(${p}, ${this.value(0)}) + ${this.value(n)}`);
    }
    const remove = (changes.remove ?? []).map((p) => this.path(p));
    const parts = [
      set.length ? `SET ${set.join(", ")}` : "",
      remove.length ? `REMOVE ${remove.join(", ")}` : "",
    ];
    return parts.filter(Boolean).join(" ");
  }

  /** The placeholders, in the shape the SDK wants (values left out when there are none). */
  attributes() {
    return {
      ...(Object.keys(this.names).length ? { ExpressionAttributeNames: this.names } : {}),
      ...(Object.keys(this.values).length ? { ExpressionAttributeValues: this.values } : {}),
    };
  }
}

/**
 * A value with every object in it as a Map, for the document client's marshaller: it takes an object for a
 * plain map only when `value.constructor.name` is "Object", so a map with a key `constructor` (a label, an
 * environment variable, a job's metadata) would be refused or, worse, marshalled as a string or a set. A
 * Map is always a map.
 */
export function asMaps(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(asMaps);
  if (typeof v !== "object" || v === null || v instanceof Uint8Array) return v;
  return new Map(Object.entries(v).map(([k, x]) => [k, asMaps(x)]));
}

/** An item for the document client: its attributes (fixed names) as given, their values as Maps. */
export const itemWithMaps = (item: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(item).map(([k, v]) => [k, asMaps(v)]));
