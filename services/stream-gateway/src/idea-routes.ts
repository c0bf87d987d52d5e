import {
  type ErrorCode,
  HeliographError,
  IdeaChannelId,
  IdeaId,
  IdeaProjection,
  ideasStreamId,
  STREAM_HEAD_HEADER,
  STREAM_STATUS_HEADER,
  type StreamId,
} from "@heliograph/contracts";
import { Counter, type HttpScope, type Logger, type Redis, type Registry } from "@heliograph/platform";
import { readIdeaProjection, readOpenIdeas, readStreamState } from "@heliograph/store";
import type { FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import type { StreamSource } from "./stream-source.js";
import {
  AUTH_NOTE,
  backend,
  invalid,
  type SubscriberAccess,
  sendStoredJson,
  subscriberOf,
  subscriberReadErrors,
} from "./subscriber-access.js";

export interface IdeaRoutesDeps {
  redis: Redis;
  /** Idea states are only in Redis: answered only while Redis holds the stream's record. */
  source: Pick<StreamSource, "fromRedisOnly">;
  access: SubscriberAccess;
  metrics: Registry;
  log: Logger;
}

const CHANNEL_PATTERN_TEXT = "^[a-z0-9][a-z0-9_-]{0,57}$";

// Params arrive as plain strings and are checked here, so each gets its own error code.
const ChannelParams = z.object({ channel: z.string() });
const IdeaParams = z.object({ channel: z.string(), idea_id: z.string() });

const TAGS = ["subscriber", "ideas"];

const ideaErrors = (...codes: ErrorCode[]) =>
  subscriberReadErrors(codes, {
    STREAM_ID_INVALID: `the channel does not match ${CHANNEL_PATTERN_TEXT}`,
    VALIDATION_FAILED: "the idea id is not 1 to 64 letters, digits, _ or -",
    STREAM_FORBIDDEN: "not entitled to the stream ideas-<channel>, whether or not it exists",
    SERVICE_UNAVAILABLE: "Redis is behind the stream's record (being repaired) or unreachable; retry after Retry-After",
  });
const HEADERS_NOTE =
  `Headers ${STREAM_HEAD_HEADER} and ${STREAM_STATUS_HEADER} give the idea stream's head and live|halted, ` +
  `as on stream reads. The state is what the stream's events up to the head fold into (contracts foldIdeas). ` +
  `While the stream's Redis copy is behind its record (being repaired), 503 SERVICE_UNAVAILABLE with Retry-After.`;

/** The idea stream of a channel; the channel is checked first so the stream id is always valid. */
function channelStream(raw: string): StreamId {
  if (!IdeaChannelId.safeParse(raw).success) {
    throw invalid(
      "STREAM_ID_INVALID",
      "params.channel",
      raw,
      `does not match ${CHANNEL_PATTERN_TEXT}`,
      `The channel must match ${CHANNEL_PATTERN_TEXT}`,
    );
  }
  return ideasStreamId(raw);
}

/**
 * Current state of trade ideas, so a subscriber need not replay a channel's stream to know what
 * is open. Answers the projection texts the sequencer stores with each event, as they are; while
 * Redis is behind the stream's record they would be an older state, so the answer is 503 with
 * Retry-After instead (stream-source.ts).
 */
export function registerIdeaRoutes(app: HttpScope, deps: IdeaRoutesDeps): void {
  const { access, log, redis, source } = deps;
  const reads = new Counter({
    name: "heliograph_idea_reads_total",
    help: "Reads of ideas' current state by outcome: found, not_found, open_list",
    labelNames: ["outcome"] as const,
    registers: [deps.metrics],
  });

  app.get(
    "/api/v1/ideas/:channel/:idea_id",
    {
      schema: {
        tags: TAGS,
        summary: "The current state of one idea (IdeaProjection)",
        description: `${AUTH_NOTE} Entitlement is to the stream ideas-<channel>. 404 IDEA_NOT_FOUND when the channel has no idea with this id. ${HEADERS_NOTE}`,
        params: IdeaParams,
        // Declared for the OpenAPI document: the handler sends the stored projection text as it is.
        response: { 200: IdeaProjection, ...ideaErrors("VALIDATION_FAILED", "IDEA_NOT_FOUND") },
      },
    },
    async (req, reply) => {
      // Authenticated (401) before any bad parameter (400), then 403, as on stream reads.
      const subscriberId = subscriberOf(req);
      const streamId = channelStream(req.params.channel);
      const ideaId = req.params.idea_id;
      if (!IdeaId.safeParse(ideaId).success)
        throw invalid("VALIDATION_FAILED", "params.idea_id", ideaId, "is not 1 to 64 letters, digits, _ or -");
      await access.requireEntitled(subscriberId, streamId, "params.channel");
      // Sent in this order on one connection, so the head is read after the projection and is never
      // behind the event_number in it.
      const [projection, state] = await backend(log, "idea read", () =>
        source.fromRedisOnly(streamId, async () => {
          const read = await Promise.all([
            readIdeaProjection(redis, streamId, ideaId),
            readStreamState(redis, streamId),
          ]);
          return { value: read, state: read[1] };
        }),
      );
      if (projection === undefined) {
        reads.inc({ outcome: "not_found" });
        throw new HeliographError("IDEA_NOT_FOUND", {
          details: [{ path: "params.idea_id", message: `no idea ${JSON.stringify(ideaId)} in ${streamId}` }],
        });
      }
      reads.inc({ outcome: "found" });
      return sendStoredJson(reply, projection, state);
    },
  );

  const openIdeas = async (req: FastifyRequest<{ Params: { channel: string } }>, reply: FastifyReply) => {
    const subscriberId = subscriberOf(req);
    const streamId = channelStream(req.params.channel);
    await access.requireEntitled(subscriberId, streamId, "params.channel");
    // One after the other: the list takes two round trips, and the head read after it is never
    // behind an event the list reflects.
    const [texts, state] = await backend(log, "open ideas read", () =>
      source.fromRedisOnly(streamId, async () => {
        const open = await readOpenIdeas(redis, streamId);
        const read = [open, await readStreamState(redis, streamId)] as const;
        return { value: read, state: read[1] };
      }),
    );
    reads.inc({ outcome: "open_list" });
    return sendStoredJson(reply, `[${texts.join(",")}]`, state);
  };
  const openSchema = {
    tags: TAGS,
    summary: "The current state of every open idea of a channel, by idea id",
    description: `${AUTH_NOTE} Entitlement is to the stream ideas-<channel>. A JSON array of IdeaProjection, [] when none is open. ${HEADERS_NOTE}`,
    params: ChannelParams,
    response: { 200: z.array(IdeaProjection), ...ideaErrors() },
  };
  app.get("/api/v1/ideas/:channel", { schema: openSchema }, openIdeas);
  app.get("/api/v1/ideas/:channel/", { schema: { ...openSchema, hide: true } }, openIdeas);
}
