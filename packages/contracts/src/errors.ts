import { z } from "zod";

/**
 * Every error code Heliograph answers with, defined once. The HTTP status and the default
 * message live here; `docs/errors.md` documents each code (a test checks it does).
 */
export const ERROR_CODES = {
  // 400: the request cannot be read
  MALFORMED_JSON: { status: 400, message: "The request body is not valid JSON" },
  VALIDATION_FAILED: { status: 400, message: "The request does not match the schema" },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: "Send the body as application/json" },
  BODY_TOO_LARGE: { status: 413, message: "The request body is larger than 64 KiB" },
  IDEMPOTENCY_KEY_INVALID: {
    status: 400,
    message: "Idempotency-Key must be 1 to 255 visible ASCII characters",
  },
  STREAM_ID_INVALID: { status: 400, message: "The stream id must match ^[a-z0-9][a-z0-9_-]{0,63}$" },
  EVENT_NUMBER_INVALID: { status: 400, message: "event_number must be an integer >= -1" },
  BATCH_SIZE_INVALID: { status: 400, message: "batch_size must be an integer >= 1" },
  LONG_POLL_INVALID: { status: 400, message: "X-Long-Poll must be a number of seconds from 0 to 60" },
  WAIT_INVALID: { status: 400, message: "X-Heliograph-Wait must be a number of seconds from 0 to 30" },
  BODY_TOO_DEEP: { status: 400, message: "The request body nests deeper than 64 levels" },
  MALFORMED_REQUEST: { status: 400, message: "The HTTP request could not be parsed" },
  URI_TOO_LONG: { status: 414, message: "A path segment is longer than 256 characters" },
  HEADERS_TOO_LARGE: { status: 431, message: "The request headers are larger than 16 KiB" },
  REQUEST_TIMEOUT: { status: 408, message: "The request was not received in time" },
  // 401 / 403: who are you, and may you
  AUTH_MISSING: { status: 401, message: "Credentials are missing" },
  AUTH_INVALID: { status: 401, message: "Credentials are not valid" },
  RESOURCE_FORBIDDEN: { status: 403, message: "This resource belongs to another publisher" },
  ALGORITHM_FORBIDDEN: { status: 403, message: "This algorithm belongs to another publisher" },
  STREAM_FORBIDDEN: { status: 403, message: "This subscriber is not entitled to the stream" },
  IDEA_CHANNEL_FORBIDDEN: { status: 403, message: "This idea channel belongs to another publisher" },
  // 404
  ROUTE_NOT_FOUND: { status: 404, message: "No such route" },
  RESOURCE_NOT_FOUND: { status: 404, message: "No such resource" },
  ALGORITHM_NOT_FOUND: { status: 404, message: "No such algorithm" },
  PUBLISHER_NOT_FOUND: { status: 404, message: "No such publisher" },
  SUBSCRIBER_NOT_FOUND: { status: 404, message: "No such subscriber" },
  INGEST_NOT_FOUND: { status: 404, message: "No publish with this ingest id" },
  IDEA_CHANNEL_NOT_FOUND: { status: 404, message: "No such idea channel" },
  IDEA_NOT_FOUND: { status: 404, message: "No such idea in this channel" },
  STREAM_NOT_FOUND: { status: 404, message: "No such stream" },
  WEBHOOK_NOT_FOUND: { status: 404, message: "No such webhook endpoint" },
  CONSOLE_NOT_BUILT: { status: 404, message: "The web console is not built on this process" },
  // 410: no longer held
  POSITION_EVICTED: {
    status: 410,
    message: "The events after this position are no longer retained; continue from X-Heliograph-Earliest minus one",
  },
  // 409 / 422: understood, but refused
  RESOURCE_EXISTS: { status: 409, message: "A resource with this id exists" },
  ALGORITHM_EXISTS: { status: 409, message: "An algorithm with this id exists" },
  IDEA_CHANNEL_EXISTS: { status: 409, message: "An idea channel with this id exists" },
  PUBLISHER_EXISTS: { status: 409, message: "A publisher with this id exists" },
  SUBSCRIBER_EXISTS: { status: 409, message: "A subscriber with this id exists" },
  WEBHOOK_EXISTS: { status: 409, message: "A webhook endpoint with this id exists" },
  IDEA_ALREADY_OPENED: { status: 409, message: "This idea was opened already; open each idea id once" },
  IDEA_NOT_OPEN: { status: 409, message: "This idea was never opened; open it before updating or closing it" },
  IDEA_CLOSED: { status: 409, message: "This idea is closed; nothing can follow a close" },
  IDEA_TIMESTAMP_BACKWARDS: { status: 409, message: "The timestamp is earlier than the idea's last event" },
  IDEMPOTENCY_KEY_IN_PROGRESS: {
    status: 409,
    message: "A request with this Idempotency-Key is still being handled; retry after the Retry-After delay",
  },
  STREAM_NOT_HALTED: { status: 409, message: "The stream is not halted; there is nothing to resolve" },
  HALT_CHANGED: {
    status: 409,
    message: "The stream's offending event is not the one named; list the halts again",
  },
  IDEA_BODY_INCONSISTENT: {
    status: 422,
    message: "The idea's state or close_timestamp does not match the call (open, update or close)",
  },
  IDEMPOTENCY_KEY_REUSED: {
    status: 422,
    message: "This Idempotency-Key was used for a different request",
  },
  RESOURCE_VALUE_INVALID: {
    status: 422,
    message: "resource_dict does not match the resource's key_value_type_pairs",
  },
  SIGNAL_FIELD_CONFLICT: {
    status: 422,
    message: "A field and its alias were both given with different values",
  },
  WEBHOOK_TARGET_FORBIDDEN: {
    status: 422,
    message: "The webhook URL resolves to a private, loopback or link-local address",
  },
  SIGNAL_ORDER_TYPE_UNSUPPORTED: { status: 422, message: 'Only "market" orders are supported' },
  // 429 / 5xx: try again later
  RATE_LIMITED: { status: 429, message: "Too many requests; retry after the Retry-After delay" },
  INGEST_UNAVAILABLE: {
    status: 503,
    message: "The event could not be stored; retry with the same Idempotency-Key",
  },
  SERVICE_UNAVAILABLE: { status: 503, message: "A backing service is unavailable; retry later" },
  SHUTTING_DOWN: { status: 503, message: "This process is shutting down; retry on another" },
  NO_INSTANCE_ANSWERED: { status: 502, message: "No instance behind this front answered; retry later" },
  INTERNAL: { status: 500, message: "Internal error" },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;
export const ErrorCode = z.enum(Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]]);
// One schema in the OpenAPI documents' components, referenced by every error answer, rather than
// the whole list written out again in each.
z.globalRegistry.add(ErrorCode, { id: "ErrorCode" });

/** Where a problem is, and what it is: `{ path: "resource_dict.Symbol", message: "..." }`. */
export const ErrorDetail = z.object({
  path: z.string(),
  message: z.string(),
});
export type ErrorDetail = z.infer<typeof ErrorDetail>;

const ErrorObject = z.object({
  code: ErrorCode,
  message: z.string(),
  details: z.array(ErrorDetail),
});
z.globalRegistry.add(ErrorObject, { id: "Error" });

/** The body of every 4xx and 5xx answer. */
export const ErrorBody = z.object({ error: ErrorObject });
export type ErrorBody = z.infer<typeof ErrorBody>;

/** Where an error answer's schema lists the codes it carries in an OpenAPI document. */
export const OPENAPI_ERROR_CODES = "x-error-codes";

/**
 * A route's error answers for its schema's `response`, by HTTP status (taken from
 * {@link ERROR_CODES}): the error body, described by the codes of that status (with `notes`, for
 * the codes that need one) and listing them under {@link OPENAPI_ERROR_CODES}, which the API
 * reference renders. Only the document is narrowed: the schema still admits every code, so an
 * answer with a code not listed (SHUTTING_DOWN from the shutdown hook) is still sent as it is.
 */
export function errorResponses(
  codes: readonly ErrorCode[],
  notes: Partial<Record<ErrorCode, string>> = {},
): Record<number, typeof ErrorBody> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) {
    const status = ERROR_CODES[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const responses: Record<number, typeof ErrorBody> = {};
  for (const [status, ofStatus] of byStatus) {
    const description = ofStatus.map((code) => (notes[code] ? `${code}: ${notes[code]}` : code)).join("; ");
    responses[status] = ErrorBody.meta({ description, [OPENAPI_ERROR_CODES]: ofStatus });
  }
  return responses;
}

/** An error with a stable code; HTTP services turn it into an {@link ErrorBody}. */
export class HeliographError extends Error {
  override readonly name = "HeliographError";
  readonly code: ErrorCode;
  readonly statusCode: number;
  readonly details: ErrorDetail[];
  /** Seconds for a Retry-After header (429 and 503). */
  readonly retryAfter: number | undefined;
  /** Further response headers that belong to the refusal (410's X-Heliograph-Earliest). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    code: ErrorCode,
    options: {
      message?: string;
      details?: ErrorDetail[];
      cause?: unknown;
      retryAfter?: number;
      headers?: Record<string, string>;
    } = {},
  ) {
    super(options.message ?? ERROR_CODES[code].message, { cause: options.cause });
    this.code = code;
    this.statusCode = ERROR_CODES[code].status;
    this.details = options.details ?? [];
    this.retryAfter = options.retryAfter;
    this.headers = options.headers ?? {};
  }

  toBody(): ErrorBody {
    return { error: { code: this.code, message: this.message, details: this.details } };
  }
}

/** Turns zod issues into details that name the field (`resource_dict.Symbol`). */
export function detailsFromIssues(
  issues: readonly { path: readonly PropertyKey[]; message: string }[],
  prefix?: string,
): ErrorDetail[] {
  return issues.map((issue) => {
    const parts = issue.path.map(String);
    if (prefix) parts.unshift(prefix);
    return { path: parts.join("."), message: issue.message };
  });
}
