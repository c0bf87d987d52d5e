/** fast-check generators of hostile requests: values, ids, path segments, bodies and headers. */
import fc from "fast-check";

const CONTROL = Array.from({ length: 32 }, (_, i) => String.fromCharCode(i)).concat(["\x7f", "\u0085", "\u2028"]);

/** Strings a careless parser chokes on: unicode, controls, huge, numeric-looking, prototype names. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ unit: fc.constantFrom(...CONTROL), minLength: 1, maxLength: 8 }),
  fc.constantFrom(
    "",
    " ",
    "\u202eevil",
    "\ud800",
    "e\u0301",
    "👩‍👩‍👧",
    "__proto__",
    "constructor",
    "prototype",
    "null",
    "undefined",
    "NaN",
    "-1",
    "1e309",
    "0x10",
    "$" + "{x}",
    "'; DROP TABLE x; --",
    "*",
    ">",
    "ingest.*.x",
    "a.b",
    "a b",
    "../../etc/passwd",
  ),
  fc.integer({ min: 65, max: 70_000 }).map((n) => "a".repeat(n)),
);

/** Numbers and number-likes: negative, fractional, enormous, not finite once parsed, strings. */
export const hostileNumber: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, -0, -1, 1, 1.5, 2 ** 53, 2 ** 53 + 2, 1e308, -1e308, 5e-324, Number.MAX_SAFE_INTEGER),
  fc.constantFrom("1", "1.0", "", "one", true, null, [], {}, [1]),
);

/** Any JSON value, including big and nested ones. */
export const anyJson: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 2, arbitrary: hostileNumber },
  { weight: 2, arbitrary: hostileString },
  // Deeper values are sent as text (deepJsonText): JSON.stringify would overflow the stack here.
  { weight: 1, arbitrary: fc.integer({ min: 100, max: 1_000 }).map(nested) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 3_000 }).map((n) => Array.from({ length: n }, (_, i) => i)) },
);

/** `[[[…]]]` or `{"a":{"a":…}}`, `depth` levels. */
export function nested(depth: number): unknown {
  let value: unknown = depth % 2 === 0 ? [] : {};
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? [value] : { a: value };
  return value;
}

/** Deep JSON as text (built as text: stringify itself would overflow the stack). */
export const deepJsonText: fc.Arbitrary<string> = fc
  .tuple(fc.integer({ min: 1_000, max: 30_000 }), fc.boolean())
  .map(([depth, arrays]) =>
    arrays ? `${"[".repeat(depth)}${"]".repeat(depth)}` : `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`,
  );

/** A valid object with fields dropped, replaced by hostile values, and hostile fields added. */
export function mutated(valid: Record<string, unknown>): fc.Arbitrary<Record<string, unknown>> {
  const keys = Object.keys(valid);
  return fc
    .record({
      drop: fc.subarray(keys, { maxLength: Math.min(2, keys.length) }),
      replace: fc.dictionary(fc.constantFrom(...keys), anyJson, { maxKeys: 2 }),
      extra: fc.dictionary(fc.oneof(hostileString, fc.constantFrom("__proto__", "constructor")), anyJson, {
        maxKeys: 2,
      }),
    })
    .map(({ drop, replace, extra }) => {
      const out: Record<string, unknown> = { ...valid };
      for (const k of drop) delete out[k];
      for (const [k, v] of Object.entries(replace)) out[k] = v;
      for (const [k, v] of Object.entries(extra))
        Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
      return out;
    });
}

/** Values that confuse a type check: each kind of JSON value, edge numbers, and strings that mean something. */
const retyped: fc.Arbitrary<unknown> = fc.constantFrom(
  "",
  "x",
  "1",
  "open",
  "closed",
  "USD",
  "2018-06-04T14:34:43.393Z",
  "2018-06-04 14:34",
  0,
  -1,
  1.5,
  2 ** 53 + 2,
  1e308,
  true,
  false,
  null,
  [],
  [1],
  {},
  { a: 1 },
);

/** Every path to a value inside `valid` (not the root): `["idea", "author", "location", "city"]`, `["resource_dict", "Symbol"]`. */
function nestedPaths(valid: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (valid === null || typeof valid !== "object") return [];
  const entries: [string | number, unknown][] = Array.isArray(valid)
    ? valid.map((v, i) => [i, v])
    : Object.entries(valid);
  return entries.flatMap(([k, v]) => [[...prefix, k], ...nestedPaths(v, [...prefix, k])]);
}

/**
 * The valid object with up to three of its nested values changed: replaced by another type or by
 * any JSON, removed, set to null, or given a sibling key nobody declared.
 */
export function mutatedDeep(valid: Record<string, unknown>): fc.Arbitrary<Record<string, unknown>> {
  const paths = nestedPaths(valid);
  if (paths.length === 0) return mutated(valid);
  const op = fc.record({
    path: fc.constantFrom(...paths),
    kind: fc.constantFrom("retype", "retype", "replace", "drop", "null", "extra"),
    value: fc.oneof(retyped, anyJson),
    key: fc.oneof(hostileString, fc.constantFrom("extra", "__proto__", "constructor")),
  });
  return fc.array(op, { minLength: 1, maxLength: 3 }).map((ops) => {
    const out = structuredClone(valid);
    for (const { path, kind, value, key } of ops) {
      let parent: unknown = out;
      for (const k of path.slice(0, -1)) parent = (parent as Record<string | number, unknown>)?.[k];
      if (parent === null || typeof parent !== "object") continue;
      const at = parent as Record<string | number, unknown>;
      const last = path.at(-1) as string | number;
      if (kind === "drop") {
        if (Array.isArray(at)) at.splice(Number(last), 1);
        else delete at[last];
      } else if (kind === "null") at[last] = null;
      else if (kind === "extra" && !Array.isArray(at))
        Object.defineProperty(at, key, { value, enumerable: true, writable: true, configurable: true });
      else at[last] = kind === "retype" ? structuredClone(value) : value;
    }
    return out;
  });
}

/** The valid body with deep JSON text spliced in at one of `paths` (e.g. `["resource_dict", "Symbol"]`). */
export function deepInside(valid: Record<string, unknown>, paths: string[][]): fc.Arbitrary<string> {
  return fc.tuple(fc.constantFrom(...paths), deepJsonText).map(([path, deep]) => {
    const copy = structuredClone(valid);
    let at: Record<string, unknown> = copy;
    for (const key of path.slice(0, -1)) {
      if (typeof at[key] !== "object" || at[key] === null) at[key] = {};
      at = at[key] as Record<string, unknown>;
    }
    at[path.at(-1) as string] = "\u0000DEEP\u0000";
    return JSON.stringify(copy).replace('"\\u0000DEEP\\u0000"', deep);
  });
}

/** A request body as sent: mostly JSON of a (mutated) valid body, else anything. */
export function bodyText(
  valid: Record<string, unknown>,
  deepPaths: string[][] = [Object.keys(valid).slice(0, 1)],
): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 2, arbitrary: deepInside(valid, deepPaths) },
    { weight: 3, arbitrary: fc.constant(JSON.stringify(valid)) },
    { weight: 5, arbitrary: mutated(valid).map((b) => JSON.stringify(b)) },
    { weight: 6, arbitrary: mutatedDeep(valid).map((b) => JSON.stringify(b)) },
    { weight: 2, arbitrary: anyJson.map((v) => JSON.stringify(v) ?? "null") },
    { weight: 1, arbitrary: deepJsonText },
    { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 200 }) },
    { weight: 1, arbitrary: mutated(valid).map((b) => JSON.stringify(b).slice(0, -1)) },
    {
      weight: 1,
      arbitrary: fc.integer({ min: 60_000, max: 200_000 }).map((n) => JSON.stringify({ ...valid, pad: "x".repeat(n) })),
    },
    { weight: 1, arbitrary: fc.constantFrom("", "null", "[]", "{}", "0", '"x"', "\ufeff{}", '{"a":1,"a":2}') },
  );
}

/**
 * A path segment meant to address an id: valid ones, encoded hostile strings and the classic
 * traversal and encoding tricks, sent raw.
 */
export function pathSegment(valid: string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...valid) },
    { weight: 3, arbitrary: hostileString.map((s) => encodeURIComponent(s.replace(/[\ud800-\udfff]/g, "x"))) },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        "..",
        ".",
        "../..",
        "..%2f..",
        "%2e%2e",
        "%2E%2E%2F",
        "%00",
        `${valid[0]}%00`,
        `${valid[0]}%00.json`,
        "a%2Fb",
        `${valid[0]}%2F..%2F..`,
        "%252e%252e",
        "%c0%ae%c0%ae",
        "%",
        "%zz",
        "%E0%A4%A",
        "%ff",
        ";",
        `${valid[0]};x=1`,
        (valid[0] ?? "x").toUpperCase(),
        `${valid[0]}%20`,
        "%20",
        "%0d%0aX-Injected:%201",
        "\\..\\..",
        "a".repeat(5_000),
      ),
    },
  );
}

/** Where an id-like segment sits in a longer path: as is, or with a traversal around it. */
export const pathNoise: fc.Arbitrary<(path: string) => string> = fc.constantFrom(
  (p: string) => p,
  (p: string) => p,
  (p: string) => p,
  (p: string) => `${p}?x=1&x=2`,
  (p: string) => `${p}?__proto__[x]=1`,
  (p: string) => `${p}#frag`,
  (p: string) => p.replace(/^\//, "//"),
  (p: string) => `${p}/`,
  (p: string) => p.replace("/v1/", "/v1/./"),
  (p: string) => p.replace("/v1/", "/v1/x/../"),
  (p: string) => p.replace("/v1/", "/v1/%2e%2e/v1/"),
  (p: string) => p.toUpperCase(),
);

/**
 * Only what HTTP allows in a header value (HTAB, visible ASCII, obs-text 0x80–0xFF): anything else
 * is refused by Node's HTTP parser before the application sees it, which raw-protocol.test.ts covers.
 */
export const wireSafe = (s: string) => s.replace(/[^\t\x20-\x7e\x80-\xff]/g, "?");

/** A header value a client might send: valid, empty, hostile, huge (as latin1 bytes on the wire). */
export function headerValue(valid: string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...valid) },
    { weight: 2, arbitrary: hostileString.map(wireSafe) },
    { weight: 1, arbitrary: fc.constantFrom("", " ", "\t", `${valid[0]} `, ` ${valid[0]}`, `${valid[0]}\xff`, "ÿþ") },
    { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 20_000 }).map((n) => "k".repeat(n)) },
  );
}

/** A header present once (mostly), absent, or sent twice with two values. */
export function headerSet(name: string, value: fc.Arbitrary<string>): fc.Arbitrary<[string, string][]> {
  return fc.oneof(
    { weight: 6, arbitrary: value.map((v): [string, string][] => [[name, v]]) },
    { weight: 2, arbitrary: fc.constant<[string, string][]>([]) },
    {
      weight: 1,
      arbitrary: fc.tuple(value, value).map(([v1, v2]): [string, string][] => [
        [name, v1],
        [name, v2],
      ]),
    },
  );
}

export const contentTypes: fc.Arbitrary<[string, string][]> = headerSet(
  "Content-Type",
  fc.oneof(
    { weight: 8, arbitrary: fc.constant("application/json") },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        "application/json; charset=utf-8",
        "application/json; charset=latin1",
        "application/json; charset=utf-16",
        "APPLICATION/JSON",
        "application/json, text/plain",
        "application/jsonx",
        "text/plain",
        "text/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/octet-stream",
        "*/*",
        "",
        "application/json; boundary=\u00ff",
      ),
    },
  ),
);
