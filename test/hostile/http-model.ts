/** What Node's HTTP layer does to a raw request before any route sees it, for the API models. */
import { MAX_BODY_BYTES } from "@heliograph/contracts";
import { type Expectation, refused } from "./answer-checks.js";
import { encodeRequest, type RawRequest } from "./raw-http.js";

/** Node's limit on a request's head; within the margin either answer is fair. */
const MAX_HEAD_BYTES = 16 * 1024;
const HEAD_LIMIT_MARGIN = 1_024;
const MAX_PARAM_LENGTH = 256;
const MAX_BODY_DEPTH = 64;
/** `type/subtype`, both RFC 9110 tokens. */
const MEDIA_TYPE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+\/[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Methods whose body Fastify never reads. */
const BODYLESS_METHODS = new Set(["GET", "HEAD", "TRACE"]);

/** `outcome`, unless the request's head is over Node's limit (431), or near it (either). */
export function headLimitExpectations(req: RawRequest, outcome: Expectation[]): Expectation[] {
  const headBytes = encodeRequest({ ...req, body: undefined }).length;
  const tooLarge = refused("a head over 16 KiB", "HEADERS_TOO_LARGE");
  // The parser stops at whichever it meets first: a malformed byte or the limit.
  const malformed = outcome.some((e) => !e.accept && e.codes.includes("MALFORMED_REQUEST"));
  if (malformed || Math.abs(headBytes - MAX_HEAD_BYTES) <= HEAD_LIMIT_MARGIN) return [...outcome, tooLarge];
  return headBytes > MAX_HEAD_BYTES ? [tooLarge] : outcome;
}

/** The headers as the server reads them: latin1 bytes, names in lower case, values without OWS. */
export function wireHeaders(headers: [string, string][]): [string, string][] {
  return headers.map(([n, v]) => [
    n.toLowerCase(),
    Buffer.from(v, "latin1")
      .toString("latin1")
      .replace(/^[ \t]+|[ \t]+$/g, ""),
  ]);
}

/** A control character other than HTAB. */
export const isControl = (c: string) => (c.charCodeAt(0) < 0x20 && c !== "\t") || c === "\x7f";

/**
 * The request target as the server reads it (latin1 on the wire), or undefined when Node's parser
 * refuses it: a space or a control character inside it breaks the request line (trailing spaces
 * only widen the gap before the HTTP version).
 */
export function wireTarget(path: string): string | undefined {
  const target = Buffer.from(path, "latin1").toString("latin1").replace(/ +$/, "");
  return [...target].some((c) => c === " " || isControl(c)) ? undefined : target;
}

/**
 * What happens before any route: Node's parser (control characters, the request target), bad
 * percent-encoding, and an over-long value where the router tries a parameter (`paramPrefixes`:
 * per method, the part of a path before a parameter). Else the path without query or fragment.
 */
export function frontDoor(
  req: RawRequest,
  paramPrefixes: Record<string, RegExp>,
): { done: Expectation } | { target: string } {
  const headers = wireHeaders(req.headers ?? []);
  if (headers.some(([, v]) => [...v].some(isControl))) {
    return { done: refused("a control character in a header", "MALFORMED_REQUEST") };
  }
  const wire = wireTarget(req.path);
  if (wire === undefined)
    return { done: refused("a space or control character in the request target", "MALFORMED_REQUEST") };
  const target = wire.split(/[?#]/, 1)[0] as string;
  if (!decodes(target)) return { done: refused("bad percent-encoding in the path", "MALFORMED_REQUEST") };
  // The router refuses an over-long value wherever it tries a parameter, even on its way to a 404.
  const param = paramPrefixes[req.method]?.exec(target);
  if (param && decodeURIComponent(param[1] as string).length > MAX_PARAM_LENGTH) {
    return { done: refused("a path parameter over 256 characters", "URI_TOO_LONG") };
  }
  return { target };
}

/** A request no route takes: Fastify still reads a JSON body before answering 404. */
export function unrouted(req: RawRequest, headers: [string, string][]): Expectation {
  const type = headers.find(([n]) => n === "content-type")?.[1];
  if (BODYLESS_METHODS.has(req.method) || type === undefined) return refused("no such route", "ROUTE_NOT_FOUND");
  if (!MEDIA_TYPE.test(type.split(";", 1)[0]?.trim() ?? "")) {
    return refused("a Content-Type that is no media type", "UNSUPPORTED_MEDIA_TYPE");
  }
  if (!isJson(type)) return refused("no such route", "ROUTE_NOT_FOUND");
  const body = readBody(req, headers);
  return "done" in body ? body.done : refused("no such route", "ROUTE_NOT_FOUND");
}

/** The body as the gateway reads it: media type, size, JSON (without prototype keys), depth. */
export function readBody(req: RawRequest, headers: [string, string][]): { done: Expectation } | { value: unknown } {
  const bytes = req.body === undefined ? Buffer.alloc(0) : Buffer.from(req.body);
  // Node keeps the first Content-Type of several.
  const type = headers.find(([n]) => n === "content-type")?.[1];
  if (!isJson(type)) {
    const chunked = headers.some(([n]) => n === "transfer-encoding");
    if (bytes.length === 0 && type === undefined && !chunked) return { value: undefined };
    return { done: refused(`a body sent as ${JSON.stringify(type)}`, "UNSUPPORTED_MEDIA_TYPE") };
  }
  if (bytes.length > MAX_BODY_BYTES) return { done: refused("a body over 64 KiB", "BODY_TOO_LARGE") };
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString("utf8").replace(/^\ufeff/, ""));
  } catch {
    return { done: refused("a body that is not JSON", "MALFORMED_JSON") };
  }
  if (hasPrototypeKey(value)) return { done: refused("a __proto__ or constructor.prototype key", "MALFORMED_JSON") };
  if (depthExceeds(value, MAX_BODY_DEPTH)) return { done: refused("a body nested over 64 levels", "BODY_TOO_DEEP") };
  return { value };
}

const isJson = (type: string | undefined) => type?.split(";", 1)[0]?.trim().toLowerCase() === "application/json";

function decodes(path: string): boolean {
  try {
    decodeURIComponent(path);
    return true;
  } catch {
    return false;
  }
}

/** Prototype poisoning, which the JSON parser refuses: a `__proto__` key, or `constructor.prototype`. */
function hasPrototypeKey(value: unknown): boolean {
  const stack = [value];
  while (stack.length > 0) {
    const node = stack.pop();
    if (node === null || typeof node !== "object") continue;
    if (!Array.isArray(node)) {
      if (Object.hasOwn(node, "__proto__")) return true;
      const ctor = (node as Record<string, unknown>).constructor;
      if (
        Object.hasOwn(node, "constructor") &&
        ctor !== null &&
        typeof ctor === "object" &&
        Object.hasOwn(ctor, "prototype")
      )
        return true;
    }
    stack.push(...Object.values(node));
  }
  return false;
}

/** The root object or array is level 1. */
function depthExceeds(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop() as [unknown, number];
    if (node === null || typeof node !== "object") continue;
    if (depth > max) return true;
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return false;
}
