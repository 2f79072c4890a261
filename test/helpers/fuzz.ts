/**
 * Bad and edge-case requests generated from the app's OpenAPI document, with a seeded PRNG (the same seed
 * gives the same requests). See test/unit/fuzz.test.ts.
 */

/** mulberry32: small, fast, good enough to pick cases; deterministic for a seed. */
export function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!,
    chance: (p: number) => next() < p,
  };
}
export type Rng = ReturnType<typeof prng>;

export type Schema = {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: Schema | boolean;
  items?: Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  example?: unknown;
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  maxItems?: number;
  maxProperties?: number;
};

export interface Parameter {
  name: string;
  in: "path" | "query" | "header";
  required?: boolean;
  schema?: Schema;
}

export interface Operation {
  method: string;
  /** As in the document, e.g. /api/v1/devices/{id}. */
  path: string;
  parameters: Parameter[];
  body?: Schema;
  /** The statuses the document lists. */
  statuses: Set<number>;
}

export interface OpenApiDoc {
  paths: Record<
    string,
    Record<
      string,
      {
        parameters?: Parameter[];
        requestBody?: { content: Record<string, { schema: Schema }> };
        responses: Record<string, unknown>;
      }
    >
  >;
  components: { schemas: Record<string, Schema> };
}

/** Every operation of a document. */
export function operationsOf(doc: OpenApiDoc): Operation[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => ({
      method: method.toUpperCase(),
      path,
      parameters: op.parameters ?? [],
      body: op.requestBody?.content["application/json"]?.schema,
      statuses: new Set(Object.keys(op.responses).map(Number)),
    })),
  );
}

/** Resolves `$ref`s and flattens `allOf` one level. */
export function resolver(doc: OpenApiDoc) {
  const resolve = (s: Schema | undefined): Schema => {
    if (!s) return {};
    if (s.$ref) return resolve(doc.components.schemas[s.$ref.replace("#/components/schemas/", "")]);
    if (s.allOf) return Object.assign({}, ...s.allOf.map(resolve), { ...s, allOf: undefined });
    return s;
  };
  return resolve;
}

const typeOf = (s: Schema) => (Array.isArray(s.type) ? s.type.find((t) => t !== "null") : s.type);

/** A plausible valid value for a schema (examples, enums, bounds); nothing is guaranteed. */
export function validValue(
  s0: Schema | undefined,
  resolve: (s?: Schema) => Schema,
  rng: Rng,
  depth = 0,
): unknown {
  const s = resolve(s0);
  if (s.const !== undefined) return s.const;
  if (s.enum) return rng.pick(s.enum);
  if (s.example !== undefined && rng.chance(0.7)) return s.example;
  const choices = s.anyOf ?? s.oneOf;
  if (choices)
    return validValue(rng.pick(choices.filter((c) => resolve(c).type !== "null")), resolve, rng, depth);
  switch (typeOf(s)) {
    case "string": {
      if (s.format === "date-time") return new Date(Date.now() + 86_400_000).toISOString();
      if (s.pattern) {
        const re = new RegExp(s.pattern);
        const fit = ["fuzz-a1", "/tmp/fuzz", "a", "0", "a1"].find((x) => re.test(x));
        if (fit) return fit;
      }
      return "fuzz".slice(0, Math.max(s.minLength ?? 1, Math.min(4, s.maxLength ?? 4)));
    }
    case "integer":
      return Math.max(s.minimum ?? 1, Math.min(s.maximum ?? 3, 3));
    case "number":
      return Math.max(s.minimum ?? 1, Math.min(s.maximum ?? 2.5, 2.5));
    case "boolean":
      return rng.chance(0.5);
    case "array":
      return depth > 4
        ? []
        : Array.from({ length: rng.int(2) }, () => validValue(s.items, resolve, rng, depth + 1));
    case "object": {
      if (depth > 4) return {};
      const out: Record<string, unknown> = {};
      for (const [k, p] of Object.entries(s.properties ?? {})) {
        if (s.required?.includes(k) || rng.chance(0.3)) out[k] = validValue(p, resolve, rng, depth + 1);
      }
      if (!s.properties && typeof s.additionalProperties === "object" && rng.chance(0.5))
        out.fuzz = validValue(s.additionalProperties, resolve, rng, depth + 1);
      return out;
    }
    default:
      return rng.pick(["x", 1, true, {}]);
  }
}

/** Marks a key to be written as `__proto__` in the JSON text (an object literal cannot hold one as data). */
export const PROTO = "\u0000__proto__\u0000";
/** Marks a value to be written as an array nested that deep (written as text: no recursion anywhere). */
export class Deep {
  readonly depth: number;
  constructor(depth: number) {
    this.depth = depth;
  }
}

/** JSON text of a value, with PROTO keys and Deep values written out. */
export function toJson(v: unknown): string {
  if (v instanceof Deep) return `${"[".repeat(v.depth)}${"]".repeat(v.depth)}`;
  if (Array.isArray(v)) return `[${v.map(toJson).join(",")}]`;
  if (typeof v === "object" && v !== null)
    return `{${Object.entries(v)
      .map(([k, x]) => `${JSON.stringify(k === PROTO ? "__proto__" : k)}:${toJson(x)}`)
      .join(",")}}`;
  return JSON.stringify(v) ?? "null";
}

const PROTOTYPE_NAMES = ["constructor", "toString", "valueOf", "hasOwnProperty", "__defineGetter__", PROTO];

/** Strings that have broken servers: long ones (around each bound), multi-byte, control characters, names of Object's members. */
function edgeString(rng: Rng, s: Schema): unknown {
  const max = s.maxLength;
  const near = max === undefined ? rng.pick([129, 2049, 70_000]) : rng.pick([max + 1, max]);
  return rng.pick([
    "",
    " ",
    "x".repeat(near),
    "€".repeat(Math.ceil(near / 2)),
    "😀".repeat(Math.ceil(near / 3)),
    "x".repeat(rng.pick([300 * 1024, 500 * 1024, 900 * 1024])),
    "\u0001".repeat(rng.pick([1, 40_000])),
    "a\u0000b",
    "\ud800",
    rng.pick(PROTOTYPE_NAMES.filter((n) => n !== PROTO)),
    "__proto__",
    "../../etc/passwd",
    "$(id)",
    "%00",
    "9".repeat(400),
  ]);
}

function edgeNumber(rng: Rng): unknown {
  return rng.pick([
    2 ** 53,
    2 ** 53 + 2,
    -(2 ** 53) - 2,
    1e300,
    -1e300,
    1e-320,
    -1,
    0,
    1.5,
    2 ** 31,
    2 ** 32,
    65536,
    "5",
    "1e400",
  ]);
}

/** One edge value for a schema (or any JSON value when the schema says nothing). */
export function edgeValue(s: Schema, rng: Rng): unknown {
  const t = typeOf(s);
  const r = rng.next();
  if (r < 0.1) return rng.pick([null, true, [], {}, "x", 7]); // a wrong type
  if (r < 0.16) return new Deep(rng.pick([33, 40, 5000]));
  if (r < 0.22)
    return Object.fromEntries(PROTOTYPE_NAMES.map((k) => [k, rng.pick(["x", { name: "Set" }, 1])]));
  if (r < 0.27)
    return Object.fromEntries(
      Array.from({ length: rng.pick([100, 5000]) }, (_, i) => [
        `K${i}_${"k".repeat(rng.int(200))}`,
        "v".repeat(rng.int(300)),
      ]),
    );
  if (r < 0.32)
    return Array.from({ length: rng.pick([65, 1000, 20_000]) }, () =>
      rng.pick(["a", "x".repeat(3000), 1, {}]),
    );
  if (t === "integer" || t === "number" || r < 0.45) return edgeNumber(rng);
  return edgeString(rng, s);
}

/** The schema at a path of a value (properties, items, additionalProperties, first matching alternative). */
function schemaAt(
  s0: Schema | undefined,
  path: (string | number)[],
  resolve: (s?: Schema) => Schema,
): Schema {
  let s = resolve(s0);
  for (const p of path) {
    const alts = s.anyOf ?? s.oneOf;
    if (alts)
      s = resolve(
        alts.find((a) => resolve(a).type === (typeof p === "number" ? "array" : "object")) ?? alts[0],
      );
    if (typeof p === "number") s = resolve(s.items);
    else
      s = resolve(
        s.properties?.[p] ?? (typeof s.additionalProperties === "object" ? s.additionalProperties : {}),
      );
  }
  return s;
}

/** Every path of a value's nodes. */
function pathsOf(v: unknown, at: (string | number)[] = [], out: (string | number)[][] = []) {
  out.push(at);
  if (Array.isArray(v)) for (const [i, x] of v.entries()) pathsOf(x, [...at, i], out);
  else if (typeof v === "object" && v !== null)
    for (const [k, x] of Object.entries(v)) pathsOf(x, [...at, k], out);
  return out;
}

function setAt(root: unknown, path: (string | number)[], value: unknown): unknown {
  if (path.length === 0) return value;
  const copy = (Array.isArray(root) ? [...root] : { ...(root as object) }) as Record<
    string | number,
    unknown
  >;
  const [head, ...rest] = path as [string | number, ...(string | number)[]];
  copy[head] = setAt(copy[head], rest, value);
  return copy;
}

/**
 * A body with one thing wrong: a node replaced by an edge value, a field removed, an unknown or
 * prototype-named field added (to the root or a nested object), or a schema field set out of bounds.
 */
export function mutateBody(
  body: unknown,
  schema: Schema | undefined,
  resolve: (s?: Schema) => Schema,
  rng: Rng,
): unknown {
  const paths = pathsOf(body);
  const r = rng.next();
  if (r < 0.45) {
    const path = rng.pick(paths.filter((p) => p.length > 0).concat([[]]));
    return setAt(body, path, edgeValue(schemaAt(schema, path, resolve), rng));
  }
  const objects = paths.filter((p) => {
    let v: unknown = body;
    for (const k of p) v = (v as Record<string | number, unknown>)[k];
    return typeof v === "object" && v !== null && !Array.isArray(v);
  });
  if (objects.length === 0) return edgeValue({}, rng);
  const at = rng.pick(objects);
  let target: unknown = body;
  for (const k of at) target = (target as Record<string | number, unknown>)[k];
  const obj = target as Record<string, unknown>;
  if (r < 0.6 && Object.keys(obj).length > 0) {
    const { [rng.pick(Object.keys(obj))]: _, ...rest } = obj;
    return setAt(body, at, rest);
  }
  if (r < 0.75) return setAt(body, at, { ...obj, [rng.pick(PROTOTYPE_NAMES)]: edgeValue({}, rng) });
  if (r < 0.82) return setAt(body, at, { ...obj, fuzzUnknown: edgeValue({}, rng) });
  // A declared field (maybe not present yet) out of its bounds.
  const s = schemaAt(schema, at, resolve);
  const names = Object.keys(s.properties ?? {});
  if (names.length === 0) return setAt(body, at, { ...obj, [PROTO]: { polluted: true } });
  const name = rng.pick(names);
  return setAt(body, [...at, name], edgeValue(resolve(s.properties![name]), rng));
}

/** Path parameter values that must be refused (or not found) without a 500. */
export function edgePathValue(rng: Rng): string {
  return rng.pick([
    "x".repeat(129),
    "x".repeat(2100),
    "é".repeat(1100),
    "x".repeat(10_000),
    "%00",
    "a%0Ab",
    "%2F",
    "..",
    "%2E%2E",
    "constructor",
    "__proto__",
    "toString",
    "😀",
    "%ED%A0%80",
    " ",
    "01ARZ3NDEKTSV4RRFFQ69G5FAV",
    "9".repeat(30),
  ]);
}

/** Query values that must be refused (or ignored) without a 500. */
export function edgeQueryValue(rng: Rng, s: Schema): string {
  const v = edgeValue(s, rng);
  if (typeof v === "string") return v.slice(0, 20_000);
  if (typeof v === "number") return String(v);
  return rng.pick([
    "-1",
    "1.5",
    "1e400",
    "99999999999999999999",
    "",
    "[]",
    '{"__proto__":{"x":1}}',
    '{"constructor":"x"}',
    "true",
    "x".repeat(5000),
  ]);
}
