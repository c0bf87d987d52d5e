import {
  Algorithm,
  CreateAlgorithmRequest,
  CreatePublisherRequest,
  CreateResourceRequest,
  CreateSubscriberRequest,
  ErrorBody,
  HeliographError,
  Publisher,
  PublisherCredentials,
  Resource,
  SetEntitlementsRequest,
  STREAM_ID_PATTERN,
  StreamStatus,
  Subscriber,
  SubscriberCredentials,
} from "@heliograph/contracts";
import { type ControlPlane, readStreamState } from "@heliograph/store";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import type { Redis } from "ioredis";
import { z } from "zod";
import { adminAuthHook } from "./admin-auth.js";
import { fromRedis } from "./backing-service.js";

export interface AdminRoutesDeps {
  controlPlane: ControlPlane;
  redis: Redis;
  adminToken: string;
}

const TextId = z.object({ id: z.string().min(1).max(64).describe("Publisher or subscriber id") });
const NumericId = z.object({ id: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER) });
const StreamParams = z.object({ stream_id: z.string().max(128).describe("^[a-z0-9][a-z0-9_-]{0,63}$") });

export const StreamInfo = z.object({
  stream_id: z.string(),
  /** Last event number; -1 when the stream has none. */
  head: z.number().int(),
  status: StreamStatus,
});
export type StreamInfo = z.infer<typeof StreamInfo>;

const errors = {
  400: ErrorBody,
  401: ErrorBody.describe("AUTH_MISSING or AUTH_INVALID"),
  404: ErrorBody,
  503: ErrorBody,
};
const creationErrors = { ...errors, 409: ErrorBody };

/**
 * The operator's API: publishers and their keys, resources and their schemas, algorithms,
 * subscribers and their entitlements, and a stream's head and status.
 */
export function adminRoutes(deps: AdminRoutesDeps): FastifyPluginAsyncZod {
  const cp = deps.controlPlane;
  const found = <T>(
    value: T | undefined,
    code: "PUBLISHER_NOT_FOUND" | "RESOURCE_NOT_FOUND" | "ALGORITHM_NOT_FOUND" | "SUBSCRIBER_NOT_FOUND",
  ): T => {
    if (value === undefined) throw new HeliographError(code);
    return value;
  };

  return async (scope) => {
    scope.addHook("onRequest", adminAuthHook(deps.adminToken));

    scope.post(
      "/publishers",
      {
        schema: {
          description: "Creates a publisher. The answer holds its API secret, which cannot be read again.",
          tags: ["admin: publishers"],
          body: CreatePublisherRequest,
          response: { 201: PublisherCredentials, ...creationErrors },
        },
      },
      async (req, reply) => reply.code(201).send(await fromRedis(() => cp.createPublisher(req.body))),
    );
    scope.get(
      "/publishers",
      {
        schema: {
          description: "Lists publishers (without secrets).",
          tags: ["admin: publishers"],
          response: { 200: z.array(Publisher), ...errors },
        },
      },
      async () => fromRedis(() => cp.listPublishers()),
    );
    scope.get(
      "/publishers/:id",
      {
        schema: {
          description: "One publisher (without its secret).",
          tags: ["admin: publishers"],
          params: TextId,
          response: { 200: Publisher, ...errors },
        },
      },
      async (req) => found(await fromRedis(() => cp.getPublisher(req.params.id)), "PUBLISHER_NOT_FOUND"),
    );
    scope.post(
      "/publishers/:id/rotate-secret",
      {
        schema: {
          description: "Issues a new API key and secret; the old ones stop working at once.",
          tags: ["admin: publishers"],
          params: TextId,
          response: { 200: PublisherCredentials, ...errors },
        },
      },
      async (req) => fromRedis(() => cp.rotatePublisherSecret(req.params.id)),
    );

    scope.post(
      "/resources",
      {
        schema: {
          description:
            "Creates a resource of a publisher with its key_value_type_pairs (e.g. " +
            '{"Symbol":"STRING","Retracement channels":"ARRAY"}; {"type":"STRING","optional":true} for an optional key).',
          tags: ["admin: resources"],
          body: CreateResourceRequest,
          response: { 201: Resource, ...creationErrors },
        },
      },
      async (req, reply) => reply.code(201).send(await fromRedis(() => cp.createResource(req.body))),
    );
    scope.get(
      "/resources",
      {
        schema: {
          description: "Lists resources.",
          tags: ["admin: resources"],
          response: { 200: z.array(Resource), ...errors },
        },
      },
      async () => fromRedis(() => cp.listResources()),
    );
    scope.get(
      "/resources/:id",
      {
        schema: {
          description: "One resource.",
          tags: ["admin: resources"],
          params: NumericId,
          response: { 200: Resource, ...errors },
        },
      },
      async (req) => found(await fromRedis(() => cp.getResource(req.params.id)), "RESOURCE_NOT_FOUND"),
    );

    scope.post(
      "/algorithms",
      {
        schema: {
          description: "Creates an algorithm of a publisher; its signals go to the stream algorithm-<id>.",
          tags: ["admin: algorithms"],
          body: CreateAlgorithmRequest,
          response: { 201: Algorithm, ...creationErrors },
        },
      },
      async (req, reply) => reply.code(201).send(await fromRedis(() => cp.createAlgorithm(req.body))),
    );
    scope.get(
      "/algorithms",
      {
        schema: {
          description: "Lists algorithms.",
          tags: ["admin: algorithms"],
          response: { 200: z.array(Algorithm), ...errors },
        },
      },
      async () => fromRedis(() => cp.listAlgorithms()),
    );
    scope.get(
      "/algorithms/:id",
      {
        schema: {
          description: "One algorithm.",
          tags: ["admin: algorithms"],
          params: NumericId,
          response: { 200: Algorithm, ...errors },
        },
      },
      async (req) => found(await fromRedis(() => cp.getAlgorithm(req.params.id)), "ALGORITHM_NOT_FOUND"),
    );

    scope.post(
      "/subscribers",
      {
        schema: {
          description:
            "Creates a subscriber entitled to the given streams. The answer holds its bearer token, which cannot be read again.",
          tags: ["admin: subscribers"],
          body: CreateSubscriberRequest,
          response: { 201: SubscriberCredentials, ...creationErrors },
        },
      },
      async (req, reply) => reply.code(201).send(await fromRedis(() => cp.createSubscriber(req.body))),
    );
    scope.get(
      "/subscribers",
      {
        schema: {
          description: "Lists subscribers with their entitlements.",
          tags: ["admin: subscribers"],
          response: { 200: z.array(Subscriber), ...errors },
        },
      },
      async () => fromRedis(() => cp.listSubscribers()),
    );
    scope.get(
      "/subscribers/:id",
      {
        schema: {
          description: "One subscriber with its entitlements.",
          tags: ["admin: subscribers"],
          params: TextId,
          response: { 200: Subscriber, ...errors },
        },
      },
      async (req) => found(await fromRedis(() => cp.getSubscriber(req.params.id)), "SUBSCRIBER_NOT_FOUND"),
    );
    scope.put(
      "/subscribers/:id/streams",
      {
        schema: {
          description: "Replaces the set of streams the subscriber may read.",
          tags: ["admin: subscribers"],
          params: TextId,
          body: SetEntitlementsRequest,
          response: { 200: Subscriber, ...errors },
        },
      },
      async (req) => fromRedis(() => cp.setEntitlements(req.params.id, req.body.streams)),
    );

    scope.get(
      "/streams/:stream_id",
      {
        schema: {
          description: "A stream's head (last event number, -1 when empty) and status (live or halted).",
          tags: ["admin: streams"],
          params: StreamParams,
          response: { 200: StreamInfo, ...errors },
        },
      },
      async (req): Promise<StreamInfo> => {
        const streamId = req.params.stream_id;
        if (!STREAM_ID_PATTERN.test(streamId)) {
          throw new HeliographError("STREAM_ID_INVALID", {
            details: [{ path: "params.stream_id", message: "invalid" }],
          });
        }
        const state = await fromRedis(() => readStreamState(deps.redis, streamId));
        return { stream_id: streamId, ...state };
      },
    );
  };
}
