/** Request header that makes a publish retry-safe (docs/architecture.md, promise 3). */
export const IDEMPOTENCY_KEY_HEADER = "idempotency-key";
/** Set on a replayed answer to an idempotent retry. */
export const IDEMPOTENT_REPLAY_HEADER = "idempotent-replayed";
/** Publisher asks to wait until its event is numbered (201 with event_number). */
export const WAIT_HEADER = "x-heliograph-wait";
/** Subscriber's long-poll bound in seconds, as in the trade-ideas document. */
export const LONG_POLL_HEADER = "x-long-poll";
/** Request header an EventSource sends on reconnecting: the `id:` of the last message it received. */
export const LAST_EVENT_ID_HEADER = "last-event-id";
/** Response: the stream's last event number (-1 when empty). */
export const STREAM_HEAD_HEADER = "x-heliograph-head";
/** Response: `live` or `halted`. */
export const STREAM_STATUS_HEADER = "x-heliograph-stream-status";
/** Response to 410 POSITION_EVICTED: the first event number still held (read from it minus one). */
export const EARLIEST_EVENT_HEADER = "x-heliograph-earliest";

export const DEFAULT_LONG_POLL_SECONDS = 5;
export const MAX_LONG_POLL_SECONDS = 60;
export const MAX_BATCH_SIZE = 1000;
/** Largest accepted request body. */
export const MAX_BODY_BYTES = 64 * 1024;

/**
 * How each API authenticates, for the OpenAPI documents (`security` of `createHttpApp`): the
 * publisher API sends both headers, the subscriber and admin APIs a bearer token.
 */
export const PUBLISHER_AUTH = {
  apiKey: { type: "apiKey", in: "header", name: "API-KEY", description: "the publisher's API key (`hgk_…`)" },
  apiSecret: {
    type: "apiKey",
    in: "header",
    name: "API-SECRET",
    description: "the publisher's API secret (`hgs_…`), shown once when the publisher is created or rotated",
  },
} as const;
export const SUBSCRIBER_AUTH = {
  subscriberToken: {
    type: "http",
    scheme: "bearer",
    description: "`Authorization: Bearer <token>`: the subscriber's token (`hgt_…`)",
  },
} as const;
export const ADMIN_AUTH = {
  adminToken: {
    type: "http",
    scheme: "bearer",
    description: "`Authorization: Bearer <ADMIN_TOKEN>`: the gateway's admin token (`hga_…`)",
  },
} as const;
