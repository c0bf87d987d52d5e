import {
  LONG_POLL_HEADER,
  parseBatchSize,
  parseEventNumber,
  parseLongPollSeconds,
  STREAM_HEAD_HEADER,
  STREAM_ID_PATTERN,
  STREAM_STATUS_HEADER,
  type StreamId,
} from "@heliograph/contracts";
import type { HttpApp, Logger } from "@heliograph/platform";
import { readLastEvents, readStreamState } from "@heliograph/store";
import type { FastifyReply } from "fastify";
import { z } from "zod";
import { type LongPollDeps, readOrWait } from "./long-poll.js";
import { AUTH_NOTE, backend, invalid, type SubscriberAccess, sendStoredJson } from "./subscriber-access.js";

export interface StreamRoutesDeps extends LongPollDeps {
  /** Authentication and entitlement, shared with the other subscriber routes. */
  access: SubscriberAccess;
  log: Logger;
}

/** How many events the "most recent" route answers with, as the trade-ideas document says. */
export const RECENT_EVENTS = 10;

// Params arrive as plain strings and are checked here, so each gets its own error code.
const StreamParams = z.object({ stream_id: z.string() });
const BatchParams = z.object({ stream_id: z.string(), event_number: z.string(), batch_size: z.string() });

const TAGS = ["subscriber"];

function parseStreamId(raw: string): StreamId {
  if (!STREAM_ID_PATTERN.test(raw))
    throw invalid("STREAM_ID_INVALID", "params.stream_id", raw, "does not match ^[a-z0-9][a-z0-9_-]{0,63}$");
  return raw;
}

export function registerStreamRoutes(app: HttpApp, deps: StreamRoutesDeps): void {
  const { log } = deps;
  const { authenticate, requireEntitled } = deps.access;

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
          `then answers []. Headers ${STREAM_HEAD_HEADER} and ${STREAM_STATUS_HEADER} give the head and live|halted.`,
        params: BatchParams,
      },
    },
    async (req, reply) => {
      const { stream_id, event_number, batch_size } = req.params;
      // 401 first, then 400 for any bad parameter, then 403.
      const subscriberId = await authenticate(req.headers.authorization);
      const streamId = parseStreamId(stream_id);
      const after = parseEventNumber(event_number);
      if (after === undefined)
        throw invalid("EVENT_NUMBER_INVALID", "params.event_number", event_number, "is not an integer >= -1");
      const batchSize = parseBatchSize(batch_size);
      if (batchSize === undefined)
        throw invalid("BATCH_SIZE_INVALID", "params.batch_size", batch_size, "is not an integer >= 1");
      const rawLongPoll = req.headers[LONG_POLL_HEADER];
      const longPollSeconds = parseLongPollSeconds(rawLongPoll);
      if (longPollSeconds === undefined)
        throw invalid(
          "LONG_POLL_INVALID",
          `headers.${LONG_POLL_HEADER}`,
          rawLongPoll,
          "is not a number of seconds from 0 to 60",
        );
      await requireEntitled(subscriberId, streamId);

      const gone = new AbortController();
      // 'close' on the response fires on completion too; only an unfinished one means the client left.
      reply.raw.once("close", () => {
        if (!reply.raw.writableFinished) gone.abort();
      });
      const result = await backend(log, "stream read", () =>
        readOrWait(deps, {
          streamId,
          after,
          batchSize,
          longPollMs: Math.round(longPollSeconds * 1000),
          signal: gone.signal,
        }),
      );
      // Nobody to answer: the connection is gone.
      if (result.kind === "aborted") return reply;
      // Shutting down: the client's next poll should open a connection to another instance.
      if (result.outcome === "released") reply.header("connection", "close");
      return sendStoredJson(reply, result.body, result);
    },
  );

  const recent = async (
    req: { headers: { authorization?: string | undefined }; params: { stream_id: string } },
    reply: FastifyReply,
  ) => {
    const subscriberId = await authenticate(req.headers.authorization);
    const streamId = parseStreamId(req.params.stream_id);
    await requireEntitled(subscriberId, streamId);
    const [texts, state] = await backend(log, "stream read", () =>
      Promise.all([readLastEvents(deps.redis, streamId, RECENT_EVENTS), readStreamState(deps.redis, streamId)]),
    );
    deps.reads.inc({ outcome: "recent" });
    return sendStoredJson(reply, `[${texts.join(",")}]`, state);
  };
  const recentSchema = {
    tags: TAGS,
    summary: "The most recent ten events, oldest first",
    description: `${AUTH_NOTE} Answers at once; use it to learn the latest event number.`,
    params: StreamParams,
  };
  app.get("/api/v1/stream/:stream_id/", { schema: recentSchema }, recent);
  app.get("/api/v1/stream/:stream_id", { schema: { ...recentSchema, hide: true } }, recent);
}
