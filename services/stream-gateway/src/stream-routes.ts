import {
  EARLIEST_EVENT_HEADER,
  type ErrorCode,
  eventsArrayText,
  LongPollHeaders,
  STREAM_HEAD_HEADER,
  STREAM_STATUS_HEADER,
  StreamEvent,
  StreamParams,
  StreamReadParams,
  SubscriberAuthHeaders,
} from "@heliograph/contracts";
import { backingServiceError, type HttpScope, type Logger } from "@heliograph/platform";
import type { FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { ClientGone, type LongPollDeps, type ReadAnswer, readOrWait } from "./long-poll.js";
import type { StreamSource } from "./stream-source.js";
import {
  AUTH_NOTE,
  backend,
  type SubscriberAccess,
  sendStoredJson,
  subscriberOf,
  subscriberReadErrors,
} from "./subscriber-access.js";

export interface StreamRoutesDeps extends LongPollDeps {
  /** Also answers the most-recent-ten route. */
  source: LongPollDeps["source"] & Pick<StreamSource, "recent">;
  /** Authentication and entitlement, shared with the other subscriber routes. */
  access: SubscriberAccess;
  log: Logger;
}

/** How many events the "most recent" route answers with, as the trade-ideas document says. */
export const RECENT_EVENTS = 10;

const TAGS = ["subscriber"];

/**
 * The events of a read. Declared for the OpenAPI document only: the handlers send the stored JSON
 * text as it is (serialised once by the sequencer), and Fastify serialises only what is not
 * already a string.
 */
const StreamEvents = z.array(StreamEvent).describe("Events in number order; [] when none is newer");

const READ_NOTES: Partial<Record<ErrorCode, string>> = {
  RATE_LIMITED: "too many reads, or this subscriber holds its share of long polls; retry after Retry-After",
  STREAM_FORBIDDEN: "not entitled to the stream, whether or not it exists",
  SERVICE_UNAVAILABLE: "retry after Retry-After",
  POSITION_EVICTED: `the event after event_number is no longer retained; ${EARLIEST_EVENT_HEADER} names the first one held`,
};

const readErrors = (...codes: ErrorCode[]) => subscriberReadErrors(codes, READ_NOTES);

export function registerStreamRoutes(app: HttpScope, deps: StreamRoutesDeps): void {
  const { log } = deps;
  const { requireEntitled } = deps.access;

  app.get(
    "/api/v1/stream/:stream_id/:event_number/:batch_size",
    {
      schema: {
        tags: TAGS,
        summary: "Read events after the last one processed, holding the request until one arrives",
        description:
          `${AUTH_NOTE} event_number is the last event processed (-1 for the start); the answer holds ` +
          `the events strictly after it, at most batch_size (capped at 1000). When there are none, the ` +
          `request is held until an event arrives or X-Long-Poll seconds pass (default 5, at most 60), ` +
          `then answers []. An answer holds at most MAX_RESPONSE_BYTES of event text (always at least one ` +
          `event): fewer than batch_size may come while more exist; continue from the last event_number. Headers ${STREAM_HEAD_HEADER} and ${STREAM_STATUS_HEADER} give the head and live|halted. ` +
          `Events older than what is retained answer 410 with ${EARLIEST_EVENT_HEADER}.`,
        headers: SubscriberAuthHeaders.extend(LongPollHeaders.shape),
        params: StreamReadParams,
        response: {
          200: StreamEvents,
          ...readErrors("EVENT_NUMBER_INVALID", "BATCH_SIZE_INVALID", "LONG_POLL_INVALID", "POSITION_EVICTED"),
        },
      },
    },
    async (req, reply) => {
      // Before any await: a client that leaves during the entitlement check must not leave a
      // waiter behind. One that left during authentication (a hook) closed already.
      const gone = new ClientGone(reply.raw);
      if (req.raw.destroyed || req.raw.socket?.destroyed) gone.abort();
      // Authenticated (401) before the parameters were parsed (400); entitlement (403) last.
      const { stream_id: streamId, event_number: after, batch_size: batchSize } = req.params;
      const subscriberId = subscriberOf(req);
      await requireEntitled(subscriberId, streamId);

      // Not through backend(): its frame and closures would be held as long as the poll is.
      let result: ReadAnswer;
      try {
        result = await readOrWait(deps, {
          streamId,
          after,
          batchSize,
          longPollMs: req.headers["x-long-poll"],
          subscriberId,
          signal: gone,
          authorization: req.headers.authorization,
        });
      } catch (err) {
        throw backingServiceError(err, () => log.warn({ err }, "stream read failed"));
      }
      // Nobody to answer: the connection is gone.
      if (result.kind === "aborted") return reply;
      // Shutting down: the client's next poll should open a connection to another instance.
      if (result.outcome === "released") reply.header("connection", "close");
      return sendStoredJson(reply, result.body, result);
    },
  );

  const recent = async (req: FastifyRequest<{ Params: StreamParams }>, reply: FastifyReply) => {
    const streamId = req.params.stream_id;
    await requireEntitled(subscriberOf(req), streamId);
    const { texts, ...state } = await backend(log, "stream read", () => deps.source.recent(streamId, RECENT_EVENTS));
    deps.reads.inc({ outcome: "recent" });
    return sendStoredJson(reply, eventsArrayText(texts), state);
  };
  const recentSchema = {
    tags: TAGS,
    summary: "The most recent ten events, oldest first",
    description: `${AUTH_NOTE} Answers at once; use it to learn the latest event number.`,
    headers: SubscriberAuthHeaders,
    params: StreamParams,
    response: { 200: StreamEvents, ...readErrors() },
  };
  app.get("/api/v1/stream/:stream_id/", { schema: recentSchema }, recent);
  app.get("/api/v1/stream/:stream_id", { schema: { ...recentSchema, hide: true } }, recent);
}
