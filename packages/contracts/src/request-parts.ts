import { z } from "zod";
import type { ErrorCode } from "./errors.js";
import {
  DEFAULT_LONG_POLL_SECONDS,
  IDEMPOTENCY_KEY_HEADER,
  LAST_EVENT_ID_HEADER,
  LONG_POLL_HEADER,
  WAIT_HEADER,
} from "./headers.js";
import { STREAM_ID_PATTERN } from "./stream-id.js";
import { parseBatchSize, parseEventNumber, parseLongPollSeconds } from "./stream-read.js";

/**
 * Key in a zod issue's `params` naming the error code its refusal answers with, so a header or a
 * path parameter refused by its schema gets its own code (WAIT_INVALID, EVENT_NUMBER_INVALID…),
 * not the generic VALIDATION_FAILED.
 */
export const ISSUE_ERROR_CODE = "error_code";

/** The error code an issue's `params` carries, if any (see {@link ISSUE_ERROR_CODE}). */
export function errorCodeOfIssue(params: unknown): ErrorCode | undefined {
  const code = (params as Record<string, unknown> | undefined)?.[ISSUE_ERROR_CODE];
  return typeof code === "string" ? (code as ErrorCode) : undefined;
}

/**
 * A text parsed by `parse` (undefined = refused): the value when it parses, else one issue with
 * `code` whose message quotes what was sent, as every 400 of a header or parameter does.
 */
function codedText<T>(code: ErrorCode, why: string, parse: (raw: string) => T | undefined) {
  return z.string().transform((raw, ctx): T => {
    const value = parse(raw);
    if (value === undefined) {
      ctx.issues.push({
        code: "custom",
        input: raw,
        message: `${JSON.stringify(raw)} ${why}`,
        params: { [ISSUE_ERROR_CODE]: code },
      });
      return z.NEVER;
    }
    return value;
  });
}

/** A single header's value, trimmed; absent, empty or sent twice (an array) is undefined. */
const singleHeader = z
  .union([z.string(), z.array(z.string())])
  .optional()
  .transform((value) => (typeof value === "string" ? value.trim() || undefined : undefined));

/** `API-KEY` + `API-SECRET`, as in the resources document; checked by the publisher API (401). */
export const PublisherAuthHeaders = z.looseObject({
  "api-key": singleHeader.describe("Publisher API key"),
  "api-secret": singleHeader.describe("Publisher API secret"),
});
export type PublisherAuthHeaders = z.infer<typeof PublisherAuthHeaders>;

/** 1 to 255 visible ASCII characters (0x21–0x7E). */
const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/** `Idempotency-Key`: makes a publish retry-safe (docs/architecture.md, promise 3); 400 IDEMPOTENCY_KEY_INVALID. */
export const IdempotencyHeaders = z.looseObject({
  [IDEMPOTENCY_KEY_HEADER]: codedText("IDEMPOTENCY_KEY_INVALID", "must be 1 to 255 visible ASCII characters", (raw) =>
    IDEMPOTENCY_KEY_PATTERN.test(raw) ? raw : undefined,
  )
    .optional()
    .describe(
      "1 to 255 visible ASCII characters. A retry with the same key and request returns the first answer " +
        "(header idempotent-replayed: true) and never creates a second event; the same key with another request is 422.",
    ),
});
export type IdempotencyHeaders = z.infer<typeof IdempotencyHeaders>;

export const MAX_WAIT_SECONDS = 30;

/** `X-Heliograph-Wait` seconds (0 to 30, decimals allowed) as milliseconds; absent is 0. */
export const PublishWaitHeaders = z.looseObject({
  [WAIT_HEADER]: codedText("WAIT_INVALID", `is not a number of seconds from 0 to ${MAX_WAIT_SECONDS}`, (raw) => {
    const seconds = /^\s*\d{1,3}(\.\d{1,6})?\s*$/.test(raw) ? Number(raw) : Number.NaN;
    return seconds >= 0 && seconds <= MAX_WAIT_SECONDS ? Math.round(seconds * 1000) : undefined;
  })
    .optional()
    .transform((ms) => ms ?? 0)
    .describe(
      "Seconds (0 to 30, decimals allowed) to wait until the publish is numbered: 201 with its event_number " +
        "when it is numbered within the bound, else the usual 202. 0 or absent: answer 202 once stored.",
    ),
});
export type PublishWaitHeaders = z.infer<typeof PublishWaitHeaders>;

/** Every header a publish reads: credentials, Idempotency-Key and X-Heliograph-Wait. */
export const PublishHeaders = PublisherAuthHeaders.extend(IdempotencyHeaders.shape).extend(PublishWaitHeaders.shape);
export type PublishHeaders = z.infer<typeof PublishHeaders>;

/** `Authorization: Bearer <token>` of a subscriber; checked by the subscriber API (401). */
export const SubscriberAuthHeaders = z.looseObject({
  authorization: z.string().optional().describe("Bearer <token> of a subscriber"),
});

/** `X-Long-Poll` seconds (0 to 60, decimals allowed; default 5) as milliseconds. */
export const LongPollHeaders = z.looseObject({
  [LONG_POLL_HEADER]: codedText("LONG_POLL_INVALID", "is not a number of seconds from 0 to 60", parseLongPollSeconds)
    .optional()
    .transform((seconds) => Math.round((seconds ?? DEFAULT_LONG_POLL_SECONDS) * 1000))
    .describe(
      "Seconds (0 to 60, decimals allowed; default 5) to hold the request when nothing is newer, then answer [].",
    ),
});
export type LongPollHeaders = z.infer<typeof LongPollHeaders>;

const StreamIdParam = codedText("STREAM_ID_INVALID", "does not match ^[a-z0-9][a-z0-9_-]{0,63}$", (raw) =>
  STREAM_ID_PATTERN.test(raw) ? raw : undefined,
).describe("The stream: ^[a-z0-9][a-z0-9_-]{0,63}$");

/** `/api/v1/stream/{stream_id}/`: the most recent ten. */
export const StreamParams = z.object({ stream_id: StreamIdParam });
export type StreamParams = z.infer<typeof StreamParams>;

/** `/api/v1/stream/{stream_id}/{event_number}/{batch_size}`, as in the trade-ideas document. */
export const StreamReadParams = z.object({
  stream_id: StreamIdParam,
  event_number: codedText("EVENT_NUMBER_INVALID", "is not an integer >= -1", parseEventNumber).describe(
    "The last event processed; -1 for the start",
  ),
  batch_size: codedText("BATCH_SIZE_INVALID", "is not an integer >= 1", parseBatchSize).describe(
    "Most events in the answer, 1 or more; larger than 1000 is capped at 1000",
  ),
});
export type StreamReadParams = z.infer<typeof StreamReadParams>;

/** `?after=N` of the event stream: the last event the client has (-1 = from the start); absent = after the current head. */
export const EventStreamQuery = z.object({
  after: codedText("EVENT_NUMBER_INVALID", "is not an integer >= -1", parseEventNumber)
    .optional()
    .describe("The last event the client has; -1 for the start. Absent (and no Last-Event-ID): from the current head"),
});
export type EventStreamQuery = z.infer<typeof EventStreamQuery>;

/** `Last-Event-ID`, sent by an EventSource when it reconnects; it wins over `?after`. */
export const LastEventIdHeaders = z.looseObject({
  [LAST_EVENT_ID_HEADER]: codedText("EVENT_NUMBER_INVALID", "is not an event number (an integer >= -1)", (raw) =>
    parseEventNumber(raw.trim()),
  )
    .optional()
    .describe("The id of the last message received (sent by EventSource on reconnecting); overrides ?after"),
});
export type LastEventIdHeaders = z.infer<typeof LastEventIdHeaders>;
