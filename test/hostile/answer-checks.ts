/**
 * What every answer of the hostile suites must be (promise 5), and whether an answer is the one a
 * model of the API expected for its request: accepted, or refused with a given code.
 */
import { ERROR_CODES, type ErrorCode } from "@heliograph/contracts";
import type { RawResponse } from "./raw-http.js";

/**
 * What a request must get. `accept`: a 2xx. `refuse`: a 4xx whose code is one of `codes`. When a
 * request could go more than one way (say, a head right at Node's header limit), one of several.
 */
export type Expectation = { accept: true; why: string } | { accept: false; codes: ErrorCode[]; why: string };

export const accepted = (why = "valid"): Expectation => ({ accept: true, why });
export const refused = (why: string, ...codes: ErrorCode[]): Expectation => ({ accept: false, codes, why });

/** Why `res` is none of `expected`, or undefined when it is one of them. Run after {@link answerProblem}. */
export function expectationProblem(res: RawResponse, expected: Expectation[], method = "GET"): string | undefined {
  const code = (res.json as { error?: { code?: string } } | undefined)?.error?.code;
  // A HEAD answer has no body: its status is all there is to compare.
  const refusedAs = (codes: ErrorCode[]) =>
    method === "HEAD" ? codes.some((c) => ERROR_CODES[c].status === res.status) : codes.includes(code as ErrorCode);
  const ok = expected.some((e) => (e.accept ? res.status >= 200 && res.status < 300 : refusedAs(e.codes)));
  if (ok) return undefined;
  const wanted = expected
    .map((e) => (e.accept ? `a 2xx (${e.why})` : `${e.codes.join(" or ")} (${e.why})`))
    .join(", or ");
  return `expected ${wanted}; answered ${res.status}${code ? ` ${code}` : ""}`;
}

/**
 * Promise 5 for one answer: a 4xx with exactly `{"error":{"code","message","details"}}` whose code
 * has that status, or a 2xx; never a 5xx, never anything else. Returns the problem, or undefined.
 */
export function answerProblem(res: RawResponse, method = "GET"): string | undefined {
  if (res.status >= 500) return `answered ${res.status} (a 5xx)`;
  if (res.status >= 200 && res.status < 300) {
    if (method === "HEAD") return undefined;
    // 204 No Content has no body by definition (a deletion).
    if (res.status === 204) return res.body === "" ? undefined : "answered 204 with a body";
    return res.json === undefined ? `answered ${res.status} with a body that is not JSON` : undefined;
  }
  if (res.status < 400) return `answered ${res.status}`;
  if (method !== "HEAD" && !/^application\/json/.test(res.headers["content-type"] ?? "")) {
    return `answered ${res.status} with content-type ${res.headers["content-type"]}`;
  }
  if (method === "HEAD") return undefined;
  const error = (res.json as { error?: Record<string, unknown> } | undefined)?.error;
  const body = res.json as Record<string, unknown> | undefined;
  if (!body || typeof error !== "object" || error === null || Object.keys(body).join() !== "error") {
    return `answered ${res.status} without the error body`;
  }
  if (Object.keys(error).sort().join() !== "code,details,message") return `error keys are ${Object.keys(error)}`;
  if (typeof error.message !== "string" || !Array.isArray(error.details)) return "error message/details malformed";
  const known = ERROR_CODES[error.code as ErrorCode];
  if (!known) return `unknown error code ${JSON.stringify(error.code)}`;
  if (known.status !== res.status) return `code ${error.code} is documented as ${known.status}, answered ${res.status}`;
  for (const d of error.details as unknown[]) {
    const detail = d as Record<string, unknown>;
    if (typeof detail?.path !== "string" || typeof detail?.message !== "string") return "a detail lacks path/message";
  }
  return undefined;
}

/** A short printable form of a request, for failure messages. */
export function showRequest(req: {
  method: string;
  path: string;
  headers?: [string, string][];
  body?: unknown;
}): string {
  const body = typeof req.body === "string" ? req.body : req.body === undefined ? "" : String(req.body);
  return JSON.stringify({
    method: req.method,
    path: req.path.length > 300 ? `${req.path.slice(0, 300)}…(${req.path.length})` : req.path,
    headers: req.headers?.map(([n, v]) => [n, v.length > 200 ? `${v.slice(0, 200)}…(${v.length})` : v]),
    body: body.length > 600 ? `${body.slice(0, 600)}…(${body.length} chars)` : body,
  });
}
