import type { ErrorBody, ErrorDetail } from "@heliograph/contracts";

/**
 * Heliograph answered with an error (`{"error":{"code","message","details"}}`, docs/errors.md).
 * Thrown at once for an answer the client does not retry, and when the retry budget ran out on one
 * it does (`RETRIED_STATUSES` and `RETRIED_CODES` in retry.ts).
 */
export class HeliographApiError extends Error {
  override readonly name = "HeliographApiError";
  /** The HTTP status. */
  readonly status: number;
  /** The error body's stable code (`RESOURCE_VALUE_INVALID`, …); `UNKNOWN` when the body was not Heliograph's. */
  readonly code: ErrorBody["error"]["code"] | "UNKNOWN";
  /** Each field at fault, as the error body names it. */
  readonly details: ErrorDetail[];
  /** Seconds from the answer's Retry-After header, when it had one. */
  readonly retryAfter: number | undefined;
  /** Every header of the answer (lower-case names). */
  readonly headers: Readonly<Record<string, string>>;
  /** Requests sent for this call, this one included. */
  readonly attempts: number;

  constructor(
    status: number,
    body: Partial<ErrorBody["error"]> | undefined,
    headers: Record<string, string>,
    attempts: number,
  ) {
    super(body?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.code ?? "UNKNOWN";
    this.details = body?.details ?? [];
    this.headers = headers;
    this.retryAfter = retryAfterSeconds(headers["retry-after"]);
    this.attempts = attempts;
  }
}

/** No answer came (connection refused or reset, a timeout) and the retry budget ran out; `cause` is the last failure. */
export class HeliographNetworkError extends Error {
  override readonly name = "HeliographNetworkError";
  readonly attempts: number;

  constructor(message: string, attempts: number, cause: unknown) {
    super(message, { cause });
    this.attempts = attempts;
  }
}

/** Retry-After in seconds (the form Heliograph sends), or an HTTP date; undefined when absent or unreadable. */
export function retryAfterSeconds(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, (at - Date.now()) / 1000);
}
