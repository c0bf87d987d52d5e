/** What Node's HTTP layer does to a raw request before any route sees it, for the API models. */
import { type Expectation, refused } from "./answer-checks.js";
import { encodeRequest, type RawRequest } from "./raw-http.js";

/** Node's limit on a request's head; within the margin either answer is fair. */
const MAX_HEAD_BYTES = 16 * 1024;
const HEAD_LIMIT_MARGIN = 1_024;

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
