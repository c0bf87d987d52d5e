import {
  algorithmStreamId,
  canonicalSignal,
  checkResourceValues,
  type ErrorCode,
  type EventType,
  errorResponses,
  HeliographError,
  IDEMPOTENT_REPLAY_HEADER,
  IdeaChannelId,
  type IdeaEventType,
  IdeaPublishRequest,
  type IdeaState,
  type IngestMessage,
  ideaBodyProblems,
  ideaTransitionViolation,
  PublishAccepted,
  PublisherAuthHeaders,
  PublishHeaders,
  PublishSequenced,
  PublishStatus,
  resourceStreamId,
  type StreamId,
  TradingSignalRequest,
  UploadResourceRequest,
} from "@heliograph/contracts";
import { fromBackingService, type RateLimiter, type Redis } from "@heliograph/platform";
import { type ControlPlane, readIdeaState, readPublishStatus } from "@heliograph/store";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { type IdempotencyRecord, type IdempotencyStore, ingestIdFor, requestHash } from "./idempotency.js";
import type { IngestPublisher } from "./ingest-publisher.js";
import { authenticatePublishers, publisherOf, publishOptionsOf } from "./publisher-auth.js";
import type { SequencedWaiter, SequencedWaiters } from "./sequenced-waiters.js";

export interface PublishRoutesDeps {
  controlPlane: ControlPlane;
  idempotency: IdempotencyStore;
  publisher: IngestPublisher;
  redis: Redis;
  waiters: SequencedWaiters;
  /** Per-publisher rate limit (429 with Retry-After); none when absent. */
  limiter?: RateLimiter;
}

/** What a route's checks may need to know of the publish being prepared. */
interface PublishContext {
  ingestId: string;
  receivedAt: string;
  /** An Idempotency-Key was sent: the ingest id is the same on every retry. */
  keyed: boolean;
}

/** What a route has checked and built; the shared path below publishes it and answers. */
interface PreparedPublish {
  stream_id: StreamId;
  event_type: EventType;
  data: IngestMessage["data"];
  /** Correlation id the answer and the event's `data.id` carry. */
  id: string;
}

/** What every publish can be refused with, whatever it publishes. */
const PUBLISH_ERRORS = [
  "MALFORMED_JSON",
  "VALIDATION_FAILED",
  "BODY_TOO_DEEP",
  "IDEMPOTENCY_KEY_INVALID",
  "WAIT_INVALID",
  "AUTH_MISSING",
  "AUTH_INVALID",
  "BODY_TOO_LARGE",
  "UNSUPPORTED_MEDIA_TYPE",
  "IDEMPOTENCY_KEY_IN_PROGRESS",
  "IDEMPOTENCY_KEY_REUSED",
  "RATE_LIMITED",
  "INGEST_UNAVAILABLE",
  "SERVICE_UNAVAILABLE",
] as const satisfies readonly ErrorCode[];

const PUBLISH_NOTES: Partial<Record<ErrorCode, string>> = {
  IDEMPOTENCY_KEY_IN_PROGRESS: "a request with this Idempotency-Key is still being handled; retry after Retry-After",
  INGEST_UNAVAILABLE: "retry after Retry-After, with the same Idempotency-Key",
  SERVICE_UNAVAILABLE: "retry after Retry-After, with the same Idempotency-Key",
};

const publishErrors = (...codes: ErrorCode[]) => errorResponses([...PUBLISH_ERRORS, ...codes], PUBLISH_NOTES);

/**
 * The publisher API: `upload_resource` and `create_trading_signal` of the resources document, the
 * idea calls (open, update, close) of the trade-ideas document, and the lookup of a publish.
 * Checks run in this order: credentials and headers (onRequest, before the body is read), the
 * body's schema, the Idempotency-Key (reserved for this request, or its first answer replayed), then
 * ownership and content. A publish is answered 202
 * only once JetStream has stored it, or 201 once it is numbered when the client asked to wait.
 */
export function publishRoutes(deps: PublishRoutesDeps): FastifyPluginAsyncZod {
  const { controlPlane, idempotency, publisher, redis, waiters } = deps;

  async function accept(
    req: FastifyRequest,
    reply: FastifyReply,
    prepare: (ctx: PublishContext) => Promise<PreparedPublish>,
  ): Promise<FastifyReply> {
    const publisherId = publisherOf(req);
    const { idempotencyKey: key, waitMs } = publishOptionsOf(req);
    const hash = key === undefined ? "" : requestHash(req.method, req.url, req.body);
    // With a key, the key is bound to this request before anything can reach INGEST: the ingest
    // id (and Nats-Msg-Id) is the key's, so a second body published under it would be dropped as
    // a duplicate while its client got a 2xx. Redis down is a 503 here, never a publish unbound.
    let reservation: { owner: string; fresh: boolean } | undefined;
    if (key !== undefined) {
      const claim = await idempotency.reserve(publisherId, key, hash);
      if (claim.kind === "replay") return replay(req, reply, claim.record, waitMs);
      reservation = claim;
    }
    const release = async (mode: "delete" | "free") => {
      if (key === undefined || reservation === undefined) return;
      await idempotency.release(publisherId, key, reservation.owner, mode).catch((err: unknown) => {
        // It expires past its window; a retry of the same request then takes it over.
        req.log.warn({ err }, "releasing an Idempotency-Key reservation failed");
      });
    };

    const receivedAt = new Date().toISOString();
    const ingestId = ingestIdFor(publisherId, key);
    let prepared: PreparedPublish;
    try {
      prepared = await prepare({ ingestId, receivedAt, keyed: key !== undefined });
    } catch (err) {
      // Refused before any publish: the key is free for a corrected request. A reservation taken
      // over from an earlier attempt stays bound, as that attempt may have reached INGEST.
      await release(reservation?.fresh ? "delete" : "free");
      throw err;
    }
    const message: IngestMessage = {
      ingest_id: ingestId,
      stream_id: prepared.stream_id,
      publisher_id: publisherId,
      event_type: prepared.event_type,
      data: prepared.data,
      received_at: receivedAt,
    };
    // Registered before the publish: the sequencer's notice can come before the PubAck does.
    const waiter = waitMs > 0 ? waiters.register(ingestId) : undefined;
    const ingestRecord = { ingest_id: ingestId, stream_id: prepared.stream_id, publisher_id: publisherId };
    // Without a key the ingest id is random and reaches the client only in the 202, so its lookup
    // record can be written while JetStream stores the publish (one wait, not two in a row); a
    // record of a publish that then fails names an id nobody learns, and expires.
    const recorded =
      key === undefined
        ? idempotency.recordIngest(ingestRecord).then(
            () => undefined,
            (err: unknown) => err,
          )
        : undefined;
    let ack: Awaited<ReturnType<IngestPublisher["publish"]>>;
    try {
      ack = await publisher.publish(message);
    } catch (err) {
      waiter?.settle(undefined);
      // Still bound to this request (a lost PubAck may have stored it), but a retry of it need
      // not wait for the reservation to expire.
      await release("free");
      throw err;
    }
    if (ack.duplicate)
      req.log.info({ ingest_id: ingestId, seq: ack.seq }, "INGEST already held this publish (a retry)");

    const answer: PublishAccepted = {
      status: "accepted",
      ingest_id: ingestId,
      stream_id: prepared.stream_id,
      id: prepared.id,
    };
    const record: IdempotencyRecord = { request_hash: hash, status: 202, body: answer };
    let first: IdempotencyRecord | "lost" | undefined;
    try {
      if (recorded) {
        const failed = await recorded;
        if (failed !== undefined) throw failed;
      } else
        first = await idempotency.recordPublish(
          ingestRecord,
          key === undefined ? undefined : { publisherId, key, record },
        );
    } catch (err) {
      // The event is stored: answer 202. The reservation stays bound to this request until it
      // expires; then a retry publishes again with the same Nats-Msg-Id and ingest id, which
      // JetStream and the sequencer drop, so no second event is created.
      req.log.error({ err, ingest_id: ingestId }, "recording the publish (ingest id, idempotency key) failed");
    }
    if (first === "lost") {
      // Redis lost this request's reservation (restarted empty, restored from behind) and another
      // request took the key meanwhile. INGEST has this message or an earlier one of the key.
      req.log.error(
        { ingest_id: ingestId, duplicate: ack.duplicate },
        "the Idempotency-Key was bound to another request while this one published",
      );
    } else if (first !== undefined) {
      waiter?.settle(undefined);
      return replay(req, reply, first, waitMs);
    }
    if (waiter) return answerWhenSequenced(reply, waiter, answer, waitMs, false);
    return reply.code(202).send(answer);
  }

  /** A replayed first answer; a 202 is upgraded to a 201 when the client waits and it gets numbered. */
  async function replay(
    req: FastifyRequest,
    reply: FastifyReply,
    record: IdempotencyRecord,
    waitMs: number,
  ): Promise<FastifyReply> {
    const accepted = record.status === 202 ? PublishAccepted.safeParse(record.body) : undefined;
    if (waitMs > 0 && accepted?.success) {
      req.log.debug({ ingest_id: accepted.data.ingest_id }, "replaying an idempotent publish; waiting for its number");
      return answerWhenSequenced(reply, waiters.register(accepted.data.ingest_id), accepted.data, waitMs, true);
    }
    return reply.code(record.status).header(IDEMPOTENT_REPLAY_HEADER, "true").send(record.body);
  }

  /** 201 with the event number once the publish is numbered, or 202 when `waitMs` passes first. */
  async function answerWhenSequenced(
    reply: FastifyReply,
    waiter: SequencedWaiter,
    answer: PublishAccepted,
    waitMs: number,
    replayed: boolean,
  ): Promise<FastifyReply> {
    // A client that goes away stops waiting at once (the response closes before it is sent).
    const gone = new AbortController();
    const onClose = () => gone.abort();
    reply.raw.once("close", onClose);
    let eventNumber: number | undefined;
    try {
      eventNumber = await waiters.wait(
        waiter,
        waitMs,
        async () => {
          // It may have been numbered before the wait began (a retry, a fast sequencer).
          const status = await readPublishStatus(redis, answer.stream_id, answer.ingest_id);
          if (status?.status === "sequenced") return status.event_number;
          // Skipped by an operator: it will never be numbered, so waiting is pointless.
          if (status?.status === "parked") return "never";
          return undefined;
        },
        gone.signal,
      );
    } finally {
      reply.raw.off("close", onClose);
    }
    if (replayed) reply.header(IDEMPOTENT_REPLAY_HEADER, "true");
    if (eventNumber === undefined) return reply.code(202).send(answer);
    const sequenced: PublishSequenced = { ...answer, status: "sequenced", event_number: eventNumber };
    return reply.code(201).send(sequenced);
  }

  /**
   * The 409 pre-checks of an idea event against the idea's numbered state. They are a courtesy
   * that answers most mistakes at once; two publishes racing each other can both pass, and the
   * sequencer's integrity rule (a halt) is what holds then.
   */
  async function checkIdeaTransition(
    streamId: StreamId,
    eventType: IdeaEventType,
    body: IdeaPublishRequest,
    ctx: PublishContext,
  ): Promise<void> {
    const current = await fromBackingService(() => readIdeaState(redis, streamId, body.id));
    const violation = ideaTransitionViolation(current, eventType, body.timestamp);
    if (violation === undefined) return;
    // An Idempotency-Key retry of a publish that already got through (its answer was lost before
    // the key was recorded) must get its 2xx, not a 409 caused by its own first attempt.
    if (ctx.keyed && (await fromBackingService(() => readPublishStatus(redis, streamId, ctx.ingestId))) !== undefined)
      return;
    const code = ideaViolationCode(current?.state, eventType);
    throw new HeliographError(code, {
      details: [{ path: code === "IDEA_TIMESTAMP_BACKWARDS" ? "timestamp" : "id", message: violation }],
    });
  }

  return async (scope) => {
    authenticatePublishers(scope, controlPlane, deps.limiter);
    // A body that is not an object (none, null, an array, a scalar) gets one clear 400, whatever
    // the schema's refinements would make of it.
    scope.addHook("preValidation", async (req) => {
      if (req.method !== "POST") return;
      if (typeof req.body !== "object" || req.body === null || Array.isArray(req.body)) {
        throw new HeliographError("VALIDATION_FAILED", {
          message: "The request body must be a JSON object",
          details: [{ path: "body", message: "must be a JSON object" }],
        });
      }
    });

    scope.post(
      "/create_trading_signal",
      {
        schema: {
          summary: "Post a trading signal",
          description:
            "Posts a trading signal from one of your algorithms into its stream `algorithm-<id>` as a " +
            "`TradingSignalCreated` event. `symbol` and `percentage_of_buying_power` are accepted as aliases of " +
            "`ticker_symbol` and `portfolio_ratio_investment`; only market orders are supported.",
          tags: ["publisher"],
          headers: PublishHeaders,
          body: TradingSignalRequest,
          response: {
            201: PublishSequenced,
            202: PublishAccepted,
            ...publishErrors(
              "ALGORITHM_FORBIDDEN",
              "ALGORITHM_NOT_FOUND",
              "SIGNAL_FIELD_CONFLICT",
              "SIGNAL_ORDER_TYPE_UNSUPPORTED",
            ),
          },
        },
      },
      async (req, reply) => {
        const body = req.body;
        return accept(req, reply, async ({ ingestId, receivedAt }) => {
          if (body.order_type !== "market") {
            throw new HeliographError("SIGNAL_ORDER_TYPE_UNSUPPORTED", {
              details: [{ path: "order_type", message: `"${body.order_type}" is not supported; send "market"` }],
            });
          }
          const algorithm = await ownedBy(req, () => controlPlane.getAlgorithm(body.algorithm_id), {
            path: "algorithm_id",
            what: `algorithm ${body.algorithm_id}`,
            notFound: "ALGORITHM_NOT_FOUND",
            forbidden: "ALGORITHM_FORBIDDEN",
          });
          return {
            stream_id: algorithmStreamId(algorithm.id),
            event_type: "TradingSignalCreated",
            // The signal's id is its ingest id: unique, and stable across Idempotency-Key retries.
            data: { id: ingestId, timestamp: body.timestamp ?? receivedAt, ...canonicalSignal(body) },
            id: ingestId,
          };
        });
      },
    );

    scope.post(
      "/upload_resource",
      {
        schema: {
          summary: "Publish a resource's values",
          description:
            "Publishes values of one of your resources into its stream `resource-<id>` as a `ResourcePublished` " +
            "event. `resource_dict` must hold every declared key of the resource (optional ones may be left out) " +
            "with a value of its type, and no other key.",
          tags: ["publisher"],
          headers: PublishHeaders,
          body: UploadResourceRequest,
          response: {
            201: PublishSequenced,
            202: PublishAccepted,
            ...publishErrors("RESOURCE_FORBIDDEN", "RESOURCE_NOT_FOUND", "RESOURCE_VALUE_INVALID"),
          },
        },
      },
      async (req, reply) => {
        const body = req.body;
        return accept(req, reply, async ({ receivedAt }) => {
          const resource = await ownedBy(req, () => controlPlane.getResource(body.resource_id), {
            path: "resource_id",
            what: `resource ${body.resource_id}`,
            notFound: "RESOURCE_NOT_FOUND",
            forbidden: "RESOURCE_FORBIDDEN",
          });
          const problems = checkResourceValues(resource.key_value_type_pairs, body.resource_dict);
          if (problems.length > 0) throw new HeliographError("RESOURCE_VALUE_INVALID", { details: problems });
          const id = String(resource.id);
          return {
            stream_id: resourceStreamId(resource.id),
            event_type: "ResourcePublished",
            data: {
              id,
              timestamp: body.timestamp ?? receivedAt,
              resource_id: resource.id,
              title: resource.title,
              resource_dict: body.resource_dict,
            },
            id,
          };
        });
      },
    );

    for (const [action, eventType] of IDEA_CALLS) {
      scope.post(
        `/ideas/:channel/${action}`,
        {
          schema: {
            summary: IDEA_CALL_SUMMARIES[eventType],
            description:
              `Publishes an \`${eventType}\` event of one of your idea channels into its stream \`ideas-<channel>\`. ` +
              "The body is the event's `data` exactly as the trade-ideas document shows it, without `published_at` " +
              `(Heliograph adds it when it numbers the event). ${IDEA_CALL_RULES[eventType]}`,
            tags: ["publisher: ideas"],
            headers: PublishHeaders,
            params: ChannelParams,
            body: IdeaPublishRequest,
            response: {
              201: PublishSequenced,
              202: PublishAccepted,
              ...publishErrors(
                "IDEA_CHANNEL_FORBIDDEN",
                "IDEA_CHANNEL_NOT_FOUND",
                "IDEA_BODY_INCONSISTENT",
                ...IDEA_CALL_CONFLICTS[eventType],
              ),
            },
          },
        },
        async (req, reply) => {
          const body = req.body;
          return accept(req, reply, async (ctx) => {
            const channel = await ownedBy(req, () => controlPlane.getIdeaChannel(req.params.channel), {
              path: "params.channel",
              what: `idea channel ${req.params.channel}`,
              notFound: "IDEA_CHANNEL_NOT_FOUND",
              forbidden: "IDEA_CHANNEL_FORBIDDEN",
            });
            const problems = ideaBodyProblems(eventType, body);
            if (problems.length > 0) throw new HeliographError("IDEA_BODY_INCONSISTENT", { details: problems });
            await checkIdeaTransition(channel.stream_id, eventType, body, ctx);
            return { stream_id: channel.stream_id, event_type: eventType, data: body, id: body.id };
          });
        },
      );
    }

    scope.get(
      "/publishes/:ingest_id",
      {
        schema: {
          summary: "Look up a publish by its ingest id",
          description:
            "Where one of your publishes is, by the ingest id its answer gave: accepted (stored, not numbered yet), " +
            "held (its stream is halted), sequenced (with its event number) or parked (skipped by an operator). " +
            "Known for the retention window (24 h by default).",
          tags: ["publisher"],
          headers: PublisherAuthHeaders,
          params: IngestParams,
          response: {
            200: PublishStatus,
            ...errorResponses([
              "VALIDATION_FAILED",
              "AUTH_MISSING",
              "AUTH_INVALID",
              "INGEST_NOT_FOUND",
              "RATE_LIMITED",
              "SERVICE_UNAVAILABLE",
            ]),
          },
        },
      },
      async (req): Promise<PublishStatus> => {
        const ingestId = req.params.ingest_id;
        const record = await idempotency.ingestRecord(ingestId);
        // Another publisher's ingest id answers as an unknown one: it reveals nothing.
        if (!record || record.publisher_id !== publisherOf(req)) {
          throw new HeliographError("INGEST_NOT_FOUND", {
            details: [{ path: "params.ingest_id", message: `no publish ${ingestId} of yours` }],
          });
        }
        const status = await fromBackingService(() => readPublishStatus(redis, record.stream_id, ingestId));
        return status ?? { status: "accepted", ingest_id: ingestId, stream_id: record.stream_id };
      },
    );
  };
}

const IDEA_CALLS = [
  ["open", "IdeaOpened"],
  ["update", "IdeaUpdated"],
  ["close", "IdeaClosed"],
] as const satisfies readonly (readonly [string, IdeaEventType])[];

const IDEA_CALL_RULES: Record<IdeaEventType, string> = {
  IdeaOpened:
    '`idea.state` must be "open" and `idea.close_timestamp` null (else 422); an idea id is opened once (else 409).',
  IdeaUpdated:
    '`idea.state` must be "open" and `idea.close_timestamp` null (else 422); the idea must be open and the ' +
    "timestamp not earlier than its last event's (else 409).",
  IdeaClosed:
    '`idea.state` must be "closed" with a `idea.close_timestamp` (else 422); the idea must be open and the ' +
    "timestamp not earlier than its last event's (else 409).",
};

const IDEA_CALL_SUMMARIES: Record<IdeaEventType, string> = {
  IdeaOpened: "Open a trade idea",
  IdeaUpdated: "Update an open trade idea",
  IdeaClosed: "Close an open trade idea",
};

/** The 409s of each idea call's pre-check (`ideaTransitionViolation` of contracts). */
const IDEA_CALL_CONFLICTS: Record<IdeaEventType, ErrorCode[]> = {
  IdeaOpened: ["IDEA_ALREADY_OPENED", "IDEA_CLOSED"],
  IdeaUpdated: ["IDEA_NOT_OPEN", "IDEA_CLOSED", "IDEA_TIMESTAMP_BACKWARDS"],
  IdeaClosed: ["IDEA_NOT_OPEN", "IDEA_CLOSED", "IDEA_TIMESTAMP_BACKWARDS"],
};

const ChannelParams = z.object({ channel: IdeaChannelId.describe("The idea channel; its stream is ideas-<channel>") });
const IngestParams = z.object({
  ingest_id: z.string().min(1).max(128).describe("The ingest_id of a publish's answer"),
});

/** The error code of an `ideaTransitionViolation`, from the idea's state and the event. */
function ideaViolationCode(state: IdeaState | undefined, eventType: IdeaEventType): ErrorCode {
  if (state === undefined) return "IDEA_NOT_OPEN";
  // Anything after a close, a second open included: the idea's story is over.
  if (state === "closed") return "IDEA_CLOSED";
  if (eventType === "IdeaOpened") return "IDEA_ALREADY_OPENED";
  return "IDEA_TIMESTAMP_BACKWARDS";
}

/**
 * A publisher's own resource, algorithm or idea channel: 404 when it does not exist, 403 when it
 * belongs to another publisher, both naming the field.
 */
async function ownedBy<T extends { publisher_id: string }>(
  req: FastifyRequest,
  load: () => Promise<T | undefined>,
  names: { path: string; what: string; notFound: ErrorCode; forbidden: ErrorCode },
): Promise<T> {
  const entity = await fromBackingService(load);
  if (!entity)
    throw new HeliographError(names.notFound, { details: [{ path: names.path, message: `no ${names.what}` }] });
  if (entity.publisher_id !== publisherOf(req)) {
    throw new HeliographError(names.forbidden, {
      details: [{ path: names.path, message: `${names.what} is not yours` }],
    });
  }
  return entity;
}
