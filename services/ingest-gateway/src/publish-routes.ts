import {
  algorithmStreamId,
  canonicalSignal,
  checkResourceValues,
  ErrorBody,
  type EventType,
  HeliographError,
  IDEMPOTENT_REPLAY_HEADER,
  type IngestMessage,
  PublishAccepted,
  resourceStreamId,
  type StreamId,
  TradingSignalRequest,
  UploadResourceRequest,
} from "@heliograph/contracts";
import type { ControlPlane } from "@heliograph/store";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { fromRedis } from "./backing-service.js";
import {
  type IdempotencyRecord,
  type IdempotencyStore,
  idempotencyKeyOf,
  ingestIdFor,
  requestHash,
} from "./idempotency.js";
import type { IngestPublisher } from "./ingest-publisher.js";
import { publisherAuthHook, publisherOf } from "./publisher-auth.js";

export interface PublishRoutesDeps {
  controlPlane: ControlPlane;
  idempotency: IdempotencyStore;
  publisher: IngestPublisher;
}

/** What a route has checked and built; the shared path below publishes it and answers. */
interface PreparedPublish {
  stream_id: StreamId;
  event_type: EventType;
  data: IngestMessage["data"];
  /** Correlation id the answer and the event's `data.id` carry. */
  id: string;
}

const PublisherHeaders = z.looseObject({
  "api-key": z.string().optional().describe("Publisher API key"),
  "api-secret": z.string().optional().describe("Publisher API secret"),
  "idempotency-key": z
    .string()
    .optional()
    .describe(
      "1 to 255 visible ASCII characters. A retry with the same key and request returns the first answer " +
        "(header idempotent-replayed: true) and never creates a second event; the same key with another request is 422.",
    ),
});

const errorResponses = {
  400: ErrorBody.describe("MALFORMED_JSON, VALIDATION_FAILED or IDEMPOTENCY_KEY_INVALID"),
  401: ErrorBody.describe("AUTH_MISSING or AUTH_INVALID"),
  403: ErrorBody.describe("The resource or algorithm belongs to another publisher"),
  404: ErrorBody.describe("No such resource or algorithm"),
  413: ErrorBody.describe("BODY_TOO_LARGE: over 64 KiB"),
  415: ErrorBody.describe("UNSUPPORTED_MEDIA_TYPE: send application/json"),
  422: ErrorBody.describe("Understood but refused (see the code)"),
  503: ErrorBody.describe(
    "INGEST_UNAVAILABLE or SERVICE_UNAVAILABLE: retry after Retry-After, with the same Idempotency-Key",
  ),
};

/**
 * The publisher API of the resources document: `upload_resource` and `create_trading_signal`.
 * Checks run in this order: credentials (onRequest, before the body is read), the body's schema,
 * the Idempotency-Key record, then ownership and content. A publish is answered 202 only once
 * JetStream has stored it.
 */
export function publishRoutes(deps: PublishRoutesDeps): FastifyPluginAsyncZod {
  const { controlPlane, idempotency, publisher } = deps;

  async function accept(
    req: FastifyRequest,
    reply: FastifyReply,
    prepare: (ingestId: string, receivedAt: string) => Promise<PreparedPublish>,
  ): Promise<FastifyReply> {
    const publisherId = publisherOf(req);
    const key = idempotencyKeyOf(req);
    const hash = key === undefined ? "" : requestHash(req.method, req.url, req.body);
    if (key !== undefined) {
      const found = await idempotency.lookup(publisherId, key, hash);
      if (found.kind === "replay") return replay(reply, found.record);
    }

    const receivedAt = new Date().toISOString();
    const ingestId = ingestIdFor(publisherId, key);
    const prepared = await prepare(ingestId, receivedAt);
    const message: IngestMessage = {
      ingest_id: ingestId,
      stream_id: prepared.stream_id,
      publisher_id: publisherId,
      event_type: prepared.event_type,
      data: prepared.data,
      received_at: receivedAt,
    };
    const ack = await publisher.publish(message);
    if (ack.duplicate)
      req.log.info({ ingest_id: ingestId, seq: ack.seq }, "INGEST already held this publish (a retry)");

    const answer: PublishAccepted = {
      status: "accepted",
      ingest_id: ingestId,
      stream_id: prepared.stream_id,
      id: prepared.id,
    };
    if (key !== undefined) {
      const record: IdempotencyRecord = { request_hash: hash, status: 202, body: answer };
      let first: IdempotencyRecord = record;
      try {
        first = await idempotency.record(publisherId, key, record);
      } catch (err) {
        if (err instanceof HeliographError) throw err;
        // The event is stored: answer 202. A retry publishes again with the same Nats-Msg-Id and
        // ingest id, which JetStream and the sequencer drop, so no second event is created.
        req.log.error({ err, ingest_id: ingestId }, "recording the idempotency key failed");
      }
      if (first !== record) return replay(reply, first);
    }
    return reply.code(202).send(answer);
  }

  return async (scope) => {
    scope.addHook("onRequest", publisherAuthHook(controlPlane));
    // The key is checked with the credentials, before the body is read.
    scope.addHook("onRequest", async (req) => {
      idempotencyKeyOf(req);
    });
    // A body that is not an object (none, null, an array, a scalar) gets one clear 400, whatever
    // the schema's refinements would make of it.
    scope.addHook("preValidation", async (req) => {
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
          description:
            "Posts a trading signal from one of your algorithms into its stream `algorithm-<id>` as a " +
            "`TradingSignalCreated` event. `symbol` and `percentage_of_buying_power` are accepted as aliases of " +
            "`ticker_symbol` and `portfolio_ratio_investment`; only market orders are supported.",
          tags: ["publisher"],
          headers: PublisherHeaders,
          body: TradingSignalRequest,
          response: { 202: PublishAccepted, ...errorResponses },
        },
      },
      async (req, reply) => {
        const body = req.body;
        return accept(req, reply, async (ingestId, receivedAt) => {
          if (body.order_type !== "market") {
            throw new HeliographError("SIGNAL_ORDER_TYPE_UNSUPPORTED", {
              details: [{ path: "order_type", message: `"${body.order_type}" is not supported; send "market"` }],
            });
          }
          const algorithm = await fromRedis(() => controlPlane.getAlgorithm(body.algorithm_id));
          if (!algorithm) {
            throw new HeliographError("ALGORITHM_NOT_FOUND", {
              details: [{ path: "algorithm_id", message: `no algorithm ${body.algorithm_id}` }],
            });
          }
          if (algorithm.publisher_id !== publisherOf(req)) {
            throw new HeliographError("ALGORITHM_FORBIDDEN", {
              details: [{ path: "algorithm_id", message: `algorithm ${body.algorithm_id} is not yours` }],
            });
          }
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
          description:
            "Publishes values of one of your resources into its stream `resource-<id>` as a `ResourcePublished` " +
            "event. `resource_dict` must hold every declared key of the resource (optional ones may be left out) " +
            "with a value of its type, and no other key.",
          tags: ["publisher"],
          headers: PublisherHeaders,
          body: UploadResourceRequest,
          response: { 202: PublishAccepted, ...errorResponses },
        },
      },
      async (req, reply) => {
        const body = req.body;
        return accept(req, reply, async (_ingestId, receivedAt) => {
          const resource = await fromRedis(() => controlPlane.getResource(body.resource_id));
          if (!resource) {
            throw new HeliographError("RESOURCE_NOT_FOUND", {
              details: [{ path: "resource_id", message: `no resource ${body.resource_id}` }],
            });
          }
          if (resource.publisher_id !== publisherOf(req)) {
            throw new HeliographError("RESOURCE_FORBIDDEN", {
              details: [{ path: "resource_id", message: `resource ${body.resource_id} is not yours` }],
            });
          }
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
  };
}

function replay(reply: FastifyReply, record: IdempotencyRecord): FastifyReply {
  return reply.code(record.status).header(IDEMPOTENT_REPLAY_HEADER, "true").send(record.body);
}
