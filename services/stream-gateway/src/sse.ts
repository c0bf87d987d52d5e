import type { ServerResponse } from "node:http";
import {
  EARLIEST_EVENT_HEADER,
  EVENT_STREAM_CONTENT_TYPE,
  EventStreamQuery,
  errorResponses,
  eventNumberOfText,
  HeliographError,
  LAST_EVENT_ID_HEADER,
  LastEventIdHeaders,
  MAX_BATCH_SIZE,
  PROXY_BUFFERING_HEADER,
  SSE_HEARTBEAT,
  STREAM_HEAD_HEADER,
  STREAM_STATUS_HEADER,
  type StreamId,
  StreamParams,
  SubscriberAuthHeaders,
  sseEventText,
  sseHaltedText,
  sseRetryText,
} from "@heliograph/contracts";
import { Gauge, type HttpScope, type Logger, type Registry, responseDrained } from "@heliograph/platform";
import { z } from "zod";
import { SUBSCRIBER_SHARE_DIVISOR } from "./hub.js";
import { type LongPollDeps, type ReadAnswer, readOrWait } from "./long-poll.js";
import type { StreamSource } from "./stream-source.js";
import { AUTH_NOTE, backend, type SubscriberAccess, subscriberOf } from "./subscriber-access.js";

export interface SseOptions {
  /** Event streams held open at once by this process; beyond it 503 with Retry-After. */
  maxConnections: number;
  /** Event streams one subscriber may hold open at once; unset, a tenth of maxConnections (at least 1). */
  maxPerSubscriber?: number;
  /** A `: heartbeat` comment goes out when nothing was sent for this long. */
  heartbeatMs: number;
  /** How long a client may leave a batch unread (socket buffer full) before its stream is dropped. */
  drainTimeoutMs: number;
  metrics: Registry;
}

/** Why an open stream ends; the client's EventSource reconnects with Last-Event-ID except after a refusal. */
type EndReason = "client" | "shutdown" | "slow" | "revoked" | "failed" | "released";

/** One open event stream, as the registry holds it. */
class OpenStream {
  readonly stop = new AbortController();
  endReason: EndReason | undefined;
  /** Set when the subscriber's record changed: its token and entitlement are checked before the next read. */
  recheckAccess = false;

  constructor(readonly subscriberId: string) {}

  end(reason: EndReason): void {
    this.endReason ??= reason;
    this.stop.abort();
  }
}

/**
 * The open event streams of the process: caps them (promise 8), ends them all on shutdown and
 * marks a subscriber's for an access check when its record changes (as `hub.reauthorize` does for
 * the waits they hold).
 */
export class SseConnections {
  private readonly open = new Set<OpenStream>();
  private readonly perSubscriber = new Map<string, number>();
  private readonly maxPerSubscriber: number;
  private closing = false;
  private readonly gauge: Gauge;

  constructor(private readonly options: Pick<SseOptions, "maxConnections" | "maxPerSubscriber" | "metrics">) {
    this.maxPerSubscriber =
      options.maxPerSubscriber ?? Math.max(1, Math.floor(options.maxConnections / SUBSCRIBER_SHARE_DIVISOR));
    this.gauge = new Gauge({
      name: "heliograph_sse_connections",
      help: "Server-Sent Events streams held open",
      registers: [options.metrics],
    });
  }

  get size(): number {
    return this.open.size;
  }

  /** Takes a slot, or throws 503 (process full, or shutting down) or 429 (this subscriber's share). */
  acquire(subscriberId: string): OpenStream {
    if (this.closing) throw new HeliographError("SHUTTING_DOWN", { retryAfter: 1 });
    if (this.open.size >= this.options.maxConnections) {
      throw new HeliographError("SERVICE_UNAVAILABLE", {
        message: "Too many event streams are open on this process; retry shortly",
        retryAfter: 1,
      });
    }
    const held = this.perSubscriber.get(subscriberId) ?? 0;
    if (held >= this.maxPerSubscriber) {
      throw new HeliographError("RATE_LIMITED", {
        message: "This subscriber holds its share of this process's event streams already; retry shortly",
        retryAfter: 1,
      });
    }
    const stream = new OpenStream(subscriberId);
    this.open.add(stream);
    this.perSubscriber.set(subscriberId, held + 1);
    this.gauge.set(this.open.size);
    return stream;
  }

  /** Idempotent. */
  release(stream: OpenStream): void {
    if (!this.open.delete(stream)) return;
    const held = (this.perSubscriber.get(stream.subscriberId) ?? 1) - 1;
    if (held > 0) this.perSubscriber.set(stream.subscriberId, held);
    else this.perSubscriber.delete(stream.subscriberId);
    this.gauge.set(this.open.size);
  }

  /** A subscriber's record changed (or, with no id, any may have): its streams check access before going on. */
  reauthorize(subscriberId?: string): void {
    if (subscriberId !== undefined && !this.perSubscriber.has(subscriberId)) return;
    for (const stream of this.open)
      if (subscriberId === undefined || stream.subscriberId === subscriberId) stream.recheckAccess = true;
  }

  /** Shutdown: refuse new streams and end the open ones (their clients reconnect elsewhere). */
  closeAll(): void {
    this.closing = true;
    for (const stream of this.open) stream.end("shutdown");
  }
}

export interface SseRouteDeps extends LongPollDeps {
  /** Also where a stream opened without a position starts (its head). */
  source: LongPollDeps["source"] & Pick<StreamSource, "state">;
  access: SubscriberAccess;
  connections: SseConnections;
  heartbeatMs: number;
  drainTimeoutMs: number;
  log: Logger;
}

const TAGS = ["subscriber"];

/**
 * `GET /api/v1/stream/{stream_id}/events` (docs/architecture.md, "Stream gateway"): the numbered
 * stream as Server-Sent Events. Catch-up and live events both come from `readOrWait`, the long
 * poll's own loop (Redis or EVENTS in bounded batches, then a wait on the hub), always asked for the
 * events after the last one sent, so no number is skipped or sent twice.
 */
export function registerSseRoute(app: HttpScope, deps: SseRouteDeps): void {
  const { log, connections } = deps;
  app.get(
    "/api/v1/stream/:stream_id/events",
    {
      schema: {
        tags: TAGS,
        summary: "Follow a stream as Server-Sent Events",
        description:
          `${AUTH_NOTE} A text/event-stream: one message per event (id: its event_number, event: its event_type, ` +
          `data: its JSON as a long poll returns it). Starts after ${LAST_EVENT_ID_HEADER} when sent (an ` +
          "EventSource reconnecting), else after ?after=N (-1 for the start), else after the current head (new events " +
          "only). A `: heartbeat` comment goes out when nothing was sent for SSE_HEARTBEAT_MS; an `event: halted` " +
          'message (data {"head":N}) once the client has every event of a halted stream. ' +
          `A position older than what is retained answers 410 with ${EARLIEST_EVENT_HEADER} before the stream starts.`,
        headers: SubscriberAuthHeaders.extend(LastEventIdHeaders.shape),
        params: StreamParams,
        querystring: EventStreamQuery,
        response: {
          200: z.string().describe("text/event-stream"),
          ...errorResponses(
            [
              "STREAM_ID_INVALID",
              "EVENT_NUMBER_INVALID",
              "AUTH_MISSING",
              "AUTH_INVALID",
              "STREAM_FORBIDDEN",
              "POSITION_EVICTED",
              "RATE_LIMITED",
              "SERVICE_UNAVAILABLE",
              "SHUTTING_DOWN",
            ],
            {
              EVENT_NUMBER_INVALID: "?after or Last-Event-ID",
              STREAM_FORBIDDEN: "not entitled to the stream, whether or not it exists",
              POSITION_EVICTED: `the event after the resume position is no longer retained; ${EARLIEST_EVENT_HEADER} names the first one held`,
              RATE_LIMITED: "too many reads, or this subscriber holds its share of event streams",
              SERVICE_UNAVAILABLE: "retry after Retry-After",
              SHUTTING_DOWN: "retry after Retry-After on another instance",
            },
          ),
        },
      },
    },
    async (req, reply) => {
      const streamId: StreamId = req.params.stream_id;
      const subscriberId = subscriberOf(req);
      await deps.access.requireEntitled(subscriberId, streamId);
      const stream = connections.acquire(subscriberId);
      const raw = reply.raw;
      // 'close' fires on completion too; only an unfinished response means the client left.
      raw.once("close", () => {
        if (!raw.writableFinished) stream.end("client");
        connections.release(stream);
      });
      if (req.raw.destroyed || req.raw.socket?.destroyed) stream.end("client");

      let first: Awaited<ReturnType<LongPollDeps["source"]["read"]>>;
      let after: number;
      try {
        const resume = req.headers[LAST_EVENT_ID_HEADER] ?? req.query.after;
        after = resume ?? (await backend(log, "stream state", () => deps.source.state(streamId))).head;
        // Read before the stream starts, so a 410 (or 503) is an HTTP answer with the error body.
        first = await backend(log, "stream read", () => deps.source.read(streamId, after, MAX_BATCH_SIZE));
      } catch (err) {
        connections.release(stream);
        throw err;
      }
      if (stream.stop.signal.aborted) {
        connections.release(stream);
        return reply;
      }

      reply.hijack();
      raw.writeHead(200, {
        "content-type": EVENT_STREAM_CONTENT_TYPE,
        "cache-control": "no-store",
        // Proxies that buffer responses (nginx) would hold events back.
        [PROXY_BUFFERING_HEADER]: "no",
        // The connection closes with the stream: one ended at shutdown must not keep the server
        // waiting for an idle keep-alive, and an EventSource opens a new one to reconnect anyway.
        connection: "close",
        [STREAM_HEAD_HEADER]: String(first.head),
        [STREAM_STATUS_HEADER]: first.status,
      });
      // HEAD (which Fastify answers for every GET route) gets the head of the answer, not a stream.
      if (req.method === "HEAD") {
        connections.release(stream);
        raw.end();
        return reply;
      }
      raw.write(sseRetryText());
      await follow(deps, raw, stream, streamId, after, req.headers.authorization, {
        kind: "events",
        texts: first.texts,
        body: "",
        head: first.head,
        status: first.status,
        outcome: "immediate",
      });
      connections.release(stream);
      if (!raw.destroyed) raw.end();
      return reply;
    },
  );
}

/** Sends events after `after` until the stream is stopped, the client falls too far behind or a read fails. */
async function follow(
  deps: SseRouteDeps,
  raw: ServerResponse,
  stream: OpenStream,
  streamId: StreamId,
  after: number,
  /** The request's Authorization, checked again when the subscriber's record changes. */
  authorization: string | undefined,
  firstAnswer: ReadAnswer,
): Promise<void> {
  const { signal } = stream.stop;
  let last = after;
  let haltSent = false;
  let answer: ReadAnswer | undefined = firstAnswer;
  try {
    for (;;) {
      if (answer === undefined) {
        // A change while events were being written, when no wait was registered for the hub to wake.
        if (stream.recheckAccess) {
          stream.recheckAccess = false;
          await deps.access.stillAllowed(authorization, stream.subscriberId, streamId);
        }
        answer = await readOrWait(deps, {
          streamId,
          after: last,
          batchSize: MAX_BATCH_SIZE,
          longPollMs: deps.heartbeatMs,
          subscriberId: stream.subscriberId,
          signal,
          authorization,
        });
      }
      if (answer.kind === "aborted") return;
      let sent = false;
      for (const text of answer.texts) {
        // Only the next number: after a gap the next read starts from the last one sent.
        if (eventNumberOfText(text) !== last + 1) break;
        const frame = sseEventText(text);
        if (frame === undefined) break;
        raw.write(frame);
        last++;
        sent = true;
      }
      if (answer.status === "halted" && last >= answer.head) {
        if (!haltSent) raw.write(sseHaltedText(answer.head));
        haltSent = true;
        sent = true;
      } else if (answer.status === "live") {
        haltSent = false;
      }
      if (answer.outcome === "released") return stream.end("released");
      if (!sent && answer.texts.length === 0) raw.write(SSE_HEARTBEAT);
      answer = undefined;
      if (!(await responseDrained(raw, signal, deps.drainTimeoutMs))) {
        if (!signal.aborted) {
          deps.log.info({ streamId, last }, "event stream dropped: its client is too far behind");
          stream.end("slow");
          raw.destroy();
        }
        return;
      }
    }
  } catch (err) {
    const refused = err instanceof HeliographError && (err.statusCode === 401 || err.statusCode === 403);
    stream.end(refused ? "revoked" : "failed");
    if (!refused) deps.log.warn({ err, streamId, last }, "event stream ended by a failed read");
  }
}
