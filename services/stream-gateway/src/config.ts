import { DEFAULT_PARTITION_COUNT } from "@heliograph/contracts";
import { BaseEnv, envInt } from "@heliograph/platform";
import { z } from "zod";

/** A whole number of at least 1, or unset (then derived from another setting). */
const optionalCount = z
  .string()
  .regex(/^\d+$/, "must be a whole number")
  .optional()
  .transform((v) => (v === undefined ? undefined : Number(v)))
  .pipe(z.number().int().min(1).optional());

export const StreamGatewayEnv = BaseEnv.extend({
  HOST: z.string().min(1).default("127.0.0.1"),
  PORT: envInt(8081, 0, 65_535),
  /** Long polls held at once; beyond it new waits get 503 with Retry-After rather than memory growth. */
  MAX_WAITERS: envInt(50_000, 1),
  /**
   * Long polls one subscriber may hold at once in this process, so one token cannot take the
   * slots of all; beyond it, 429 RATE_LIMITED with Retry-After. Unset: a tenth of MAX_WAITERS
   * (at least 1).
   */
  MAX_WAITERS_PER_SUBSCRIBER: optionalCount,
  /**
   * Bytes of event text one read answers at most (always at least one event): a batch of large
   * events is answered in part and the client continues from the last number it got.
   */
  MAX_RESPONSE_BYTES: envInt(4 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
  /**
   * Token and entitlement lookups are cached in-process and evicted by a KV watch when they
   * change; this bounds an entry's age should the watch stall unnoticed. 0 = no cache.
   */
  CONTROL_PLANE_CACHE_MS: envInt(60_000, 0, 3_600_000),
  /** Reads per second per subscriber and process (0 = no limit); over it, 429 with Retry-After. */
  SUBSCRIBER_RATE_LIMIT: envInt(500, 0, 10_000_000),
  /** Reads a subscriber may make at once after being idle (long polls held at once count here). */
  SUBSCRIBER_RATE_BURST: envInt(2_000, 1, 10_000_000),
  /**
   * Server-Sent Events streams held open at once; beyond it new ones get 503 with Retry-After. A
   * stream waiting for its next event also holds one of MAX_WAITERS, as a long poll does.
   */
  MAX_SSE_CONNECTIONS: envInt(10_000, 1),
  /** Event streams one subscriber may hold open at once (429 beyond). Unset: a tenth of MAX_SSE_CONNECTIONS. */
  MAX_SSE_CONNECTIONS_PER_SUBSCRIBER: optionalCount,
  /** An event stream with nothing to send for this long sends a `: heartbeat` comment, so proxies keep it. */
  SSE_HEARTBEAT_MS: envInt(15_000, 100, 3_600_000),
  /**
   * How long an event stream's client may leave a sent batch unread (the socket's buffer full)
   * before its stream is dropped: a slow client holds one batch, never a growing backlog.
   */
  SSE_DRAIN_TIMEOUT_MS: envInt(30_000, 100, 3_600_000),
  /** INGEST's partition count, as in the sequencers: a verify request goes to the stream's partition. */
  PARTITIONS: envInt(DEFAULT_PARTITION_COUNT, 1, 1024),
  /**
   * Streams whose verification against EVENTS is remembered (least recently read forgotten first;
   * a forgotten stream's next read compares Redis with EVENTS again, one JetStream request).
   */
  VERIFIED_STREAMS_MAX: envInt(100_000, 1, 10_000_000),
});
export type StreamGatewayConfig = z.infer<typeof StreamGatewayEnv>;
