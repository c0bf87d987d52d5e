import {
  Algorithm,
  CreateAlgorithmRequest,
  CreateIdeaChannelRequest,
  CreatePublisherRequest,
  CreateResourceRequest,
  CreateSubscriberRequest,
  ErrorBody,
  HeliographError,
  IdeaChannel,
  IdeaChannelId,
  ParkedPublish,
  Publisher,
  PublisherCredentials,
  RESUME_SUBJECT,
  ResolveHaltAnswer,
  ResolveHaltRequest,
  Resource,
  type ResumeNotice,
  SetEntitlementsRequest,
  STREAM_ID_PATTERN,
  StreamHalt,
  type StreamId,
  StreamInfo,
  Subscriber,
  SubscriberCredentials,
} from "@heliograph/contracts";
import { fromBackingService } from "@heliograph/platform";
import {
  type ControlPlane,
  listHaltedStreams,
  readHalt,
  readParked,
  readStreamState,
  resolveHalt,
} from "@heliograph/store";
import type { NatsConnection } from "@nats-io/nats-core";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import type { Redis } from "ioredis";
import { z } from "zod";
import { adminAuthHook } from "./admin-auth.js";

export interface AdminRoutesDeps {
  controlPlane: ControlPlane;
  redis: Redis;
  /** Announces halt resolutions (RESUME_SUBJECT) to the sequencers. */
  nc: NatsConnection;
  adminToken: string;
  /** How long a skipped publish's record answers status lookups (APPLIED_TTL_SECONDS). */
  appliedTtlSeconds: number;
}

const TextId = z.object({ id: z.string().min(1).max(64).describe("Publisher or subscriber id") });
const NumericId = z.object({ id: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER) });
const StreamParams = z.object({ stream_id: z.string().max(128).describe("^[a-z0-9][a-z0-9_-]{0,63}$") });
const ChannelParams = z.object({ id: IdeaChannelId });

function streamIdOf(params: { stream_id: string }): StreamId {
  if (!STREAM_ID_PATTERN.test(params.stream_id)) {
    throw new HeliographError("STREAM_ID_INVALID", { details: [{ path: "params.stream_id", message: "invalid" }] });
  }
  return params.stream_id;
}

const errors = {
  400: ErrorBody,
  401: ErrorBody.describe("AUTH_MISSING or AUTH_INVALID"),
  404: ErrorBody,
  503: ErrorBody,
};
const creationErrors = { ...errors, 409: ErrorBody };
const haltErrors = {
  ...errors,
  404: ErrorBody.describe("STREAM_NOT_FOUND: the stream has no events and no halt"),
  409: ErrorBody.describe("STREAM_NOT_HALTED (the stream is live) or HALT_CHANGED"),
};

/**
 * The operator's API: publishers and their keys, resources and their schemas, algorithms, idea
 * channels, subscribers and their entitlements, a stream's head and status, and stream halts
 * (list, inspect, resolve, and the publishes parked by a skip).
 */
export function adminRoutes(deps: AdminRoutesDeps): FastifyPluginAsyncZod {
  const cp = deps.controlPlane;
  const found = <T>(
    value: T | undefined,
    code:
      | "PUBLISHER_NOT_FOUND"
      | "RESOURCE_NOT_FOUND"
      | "ALGORITHM_NOT_FOUND"
      | "SUBSCRIBER_NOT_FOUND"
      | "IDEA_CHANNEL_NOT_FOUND",
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
      async (req, reply) => reply.code(201).send(await fromBackingService(() => cp.createPublisher(req.body))),
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
      async () => fromBackingService(() => cp.listPublishers()),
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
      async (req) => found(await fromBackingService(() => cp.getPublisher(req.params.id)), "PUBLISHER_NOT_FOUND"),
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
      async (req) => fromBackingService(() => cp.rotatePublisherSecret(req.params.id)),
    );

    scope.post(
      "/publishers/:id/revoke",
      {
        schema: {
          description:
            "Revokes a publisher's key: every instance refuses it within a second (401). The publisher, its " +
            "resources, algorithms and channels stay; rotate-secret issues a working key again.",
          tags: ["admin: publishers"],
          params: TextId,
          response: { 200: Publisher, ...errors },
        },
      },
      async (req) => fromBackingService(() => cp.revokePublisher(req.params.id)),
    );
    scope.delete(
      "/publishers/:id",
      {
        schema: {
          description:
            "Deletes a publisher and its key (refused everywhere within a second). Its resources, algorithms and " +
            "idea channels and their streams stay; nobody can publish to them until a publisher of the same id " +
            "is created again.",
          tags: ["admin: publishers"],
          params: TextId,
          response: { 204: z.null().describe("Deleted"), ...errors },
        },
      },
      async (req, reply) => {
        await fromBackingService(() => cp.deletePublisher(req.params.id));
        req.log.info({ publisher_id: req.params.id }, "publisher deleted");
        return reply.code(204).send(null);
      },
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
      async (req, reply) => reply.code(201).send(await fromBackingService(() => cp.createResource(req.body))),
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
      async () => fromBackingService(() => cp.listResources()),
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
      async (req) => found(await fromBackingService(() => cp.getResource(req.params.id)), "RESOURCE_NOT_FOUND"),
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
      async (req, reply) => reply.code(201).send(await fromBackingService(() => cp.createAlgorithm(req.body))),
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
      async () => fromBackingService(() => cp.listAlgorithms()),
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
      async (req) => found(await fromBackingService(() => cp.getAlgorithm(req.params.id)), "ALGORITHM_NOT_FOUND"),
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
      async (req, reply) => reply.code(201).send(await fromBackingService(() => cp.createSubscriber(req.body))),
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
      async () => fromBackingService(() => cp.listSubscribers()),
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
      async (req) => found(await fromBackingService(() => cp.getSubscriber(req.params.id)), "SUBSCRIBER_NOT_FOUND"),
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
      async (req) => fromBackingService(() => cp.setEntitlements(req.params.id, req.body.streams)),
    );

    scope.post(
      "/subscribers/:id/rotate-token",
      {
        schema: {
          description:
            "Issues a new bearer token; the old one is refused on every instance within a second and its held " +
            "long polls end. A revoked subscriber is active again.",
          tags: ["admin: subscribers"],
          params: TextId,
          response: { 200: SubscriberCredentials, ...errors },
        },
      },
      async (req) => fromBackingService(() => cp.rotateSubscriberToken(req.params.id)),
    );
    scope.post(
      "/subscribers/:id/revoke",
      {
        schema: {
          description:
            "Revokes a subscriber's token: refused on every instance within a second (401), held long polls " +
            "end. Entitlements are kept; rotate-token issues a working token again.",
          tags: ["admin: subscribers"],
          params: TextId,
          response: { 200: Subscriber, ...errors },
        },
      },
      async (req) => fromBackingService(() => cp.revokeSubscriber(req.params.id)),
    );
    scope.delete(
      "/subscribers/:id",
      {
        schema: {
          description:
            "Deletes a subscriber, its token and entitlements: refused everywhere within a second, held long " +
            "polls end.",
          tags: ["admin: subscribers"],
          params: TextId,
          response: { 204: z.null().describe("Deleted"), ...errors },
        },
      },
      async (req, reply) => {
        await fromBackingService(() => cp.deleteSubscriber(req.params.id));
        req.log.info({ subscriber_id: req.params.id }, "subscriber deleted");
        return reply.code(204).send(null);
      },
    );

    scope.post(
      "/channels",
      {
        schema: {
          description: "Creates an idea channel of a publisher; its ideas go to the stream ideas-<id>.",
          tags: ["admin: idea channels"],
          body: CreateIdeaChannelRequest,
          response: { 201: IdeaChannel, ...creationErrors },
        },
      },
      async (req, reply) => reply.code(201).send(await fromBackingService(() => cp.createIdeaChannel(req.body))),
    );
    scope.get(
      "/channels",
      {
        schema: {
          description: "Lists idea channels.",
          tags: ["admin: idea channels"],
          response: { 200: z.array(IdeaChannel), ...errors },
        },
      },
      async () => fromBackingService(() => cp.listIdeaChannels()),
    );
    scope.get(
      "/channels/:id",
      {
        schema: {
          description: "One idea channel.",
          tags: ["admin: idea channels"],
          params: ChannelParams,
          response: { 200: IdeaChannel, ...errors },
        },
      },
      async (req) => found(await fromBackingService(() => cp.getIdeaChannel(req.params.id)), "IDEA_CHANNEL_NOT_FOUND"),
    );

    /** The stream's halt, or why there is none: 404 for a stream that has nothing, 409 for a live one. */
    const haltOf = async (streamId: StreamId): Promise<StreamHalt> => {
      const halt = await fromBackingService(() => readHalt(deps.redis, streamId));
      if (halt) return halt;
      const state = await fromBackingService(() => readStreamState(deps.redis, streamId));
      if (state.head < 0) {
        throw new HeliographError("STREAM_NOT_FOUND", {
          details: [{ path: "params.stream_id", message: `stream ${streamId} has no events and is not halted` }],
        });
      }
      throw new HeliographError("STREAM_NOT_HALTED", {
        details: [{ path: "params.stream_id", message: `stream ${streamId} is live (head ${state.head})` }],
      });
    };

    scope.get(
      "/halts",
      {
        schema: {
          description:
            "Every halted stream: why, since when, the offending publish (its ingest id and event) and how many " +
            "publishes are held behind it.",
          tags: ["admin: streams"],
          response: { 200: z.array(StreamHalt), ...errors },
        },
      },
      async () => fromBackingService(() => listHaltedStreams(deps.redis)),
    );
    scope.get(
      "/streams/:stream_id/halt",
      {
        schema: {
          description:
            "A halted stream's halt with the offending event. 409 STREAM_NOT_HALTED when the stream is live; " +
            "404 STREAM_NOT_FOUND when it has no events and no halt.",
          tags: ["admin: streams"],
          params: StreamParams,
          response: { 200: StreamHalt, ...haltErrors },
        },
      },
      async (req) => haltOf(streamIdOf(req.params)),
    );
    scope.post(
      "/streams/:stream_id/resolve",
      {
        schema: {
          description:
            "Resolves a halt: `skip` parks the offending publish (kept in the parked list) and goes on; `retry` " +
            "numbers it again, with `data` as its fixed data when given. `ingest_id` guards against resolving " +
            "another halt than the one looked at (409 HALT_CHANGED). The stream's sequencer resumes at once.",
          tags: ["admin: streams"],
          params: StreamParams,
          body: ResolveHaltRequest,
          response: { 200: ResolveHaltAnswer, ...haltErrors },
        },
      },
      async (req): Promise<ResolveHaltAnswer> => {
        const streamId = streamIdOf(req.params);
        const resolved = await fromBackingService(async () => {
          try {
            return await resolveHalt(deps.redis, streamId, req.body, { appliedTtlSeconds: deps.appliedTtlSeconds });
          } catch (err) {
            // A stream with nothing at all is a typo more likely than a live stream.
            if (err instanceof HeliographError && err.code === "STREAM_NOT_HALTED") await haltOf(streamId);
            throw err;
          }
        });
        // Core NATS, fire and forget: the resolution is already durable in Redis, and a sequencer
        // that misses the notice finds the stream resumable on its own, only later.
        try {
          const notice: ResumeNotice = { stream_id: streamId };
          deps.nc.publish(RESUME_SUBJECT, JSON.stringify(notice));
        } catch (err) {
          req.log.warn({ err, stream_id: streamId }, "announcing the resolution failed; the sequencer resumes later");
        }
        req.log.info({ stream_id: streamId, action: resolved.action, ingest_id: resolved.ingest_id }, "halt resolved");
        return resolved;
      },
    );
    scope.get(
      "/streams/:stream_id/parked",
      {
        schema: {
          description: "The publishes operators skipped on this stream, oldest first; they are kept, never deleted.",
          tags: ["admin: streams"],
          params: StreamParams,
          response: { 200: z.array(ParkedPublish), ...errors },
        },
      },
      async (req) => fromBackingService(() => readParked(deps.redis, streamIdOf(req.params))),
    );

    scope.get(
      "/streams/:stream_id",
      {
        schema: {
          description:
            "A stream's head (last event number, -1 when empty), status (live or halted) and the number of " +
            "publishes held behind a halt.",
          tags: ["admin: streams"],
          params: StreamParams,
          response: { 200: StreamInfo, ...errors },
        },
      },
      async (req): Promise<StreamInfo> => {
        const streamId = streamIdOf(req.params);
        const state = await fromBackingService(() => readStreamState(deps.redis, streamId));
        // Only a halted stream holds anything; a live one costs no extra read.
        const halt =
          state.status === "halted" ? await fromBackingService(() => readHalt(deps.redis, streamId)) : undefined;
        return { stream_id: streamId, ...state, held: halt?.held ?? 0 };
      },
    );
  };
}
