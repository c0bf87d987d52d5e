import {
  Algorithm,
  CreateAlgorithmRequest,
  CreateIdeaChannelRequest,
  CreatePublisherRequest,
  CreateResourceRequest,
  CreateSubscriberRequest,
  CreateWebhookEndpointRequest,
  type ErrorCode,
  errorResponses,
  HeliographError,
  IdeaChannel,
  IdeaChannelId,
  ParkedPublish,
  Publisher,
  PublisherCredentials,
  RESUME_SUBJECT,
  ReplayWebhookRequest,
  ResolveHaltAnswer,
  ResolveHaltRequest,
  Resource,
  type ResumeNotice,
  RotateWebhookSecretRequest,
  SetEntitlementsRequest,
  STREAM_ID_PATTERN,
  StreamHalt,
  type StreamId,
  StreamInfo,
  Subscriber,
  SubscriberCredentials,
  WebhookAttempt,
  WebhookEndpoint,
  WebhookEndpointCreated,
  WebhookEndpointDetail,
} from "@heliograph/contracts";
import { fromBackingService, type Logger, nonPublicTarget, type Redis } from "@heliograph/platform";
import {
  type ControlPlane,
  clearWebhookFailure,
  deleteWebhookState,
  listHaltedStreams,
  readHalt,
  readParked,
  readStreamState,
  readWebhookAttempts,
  readWebhookPosition,
  replayWebhookFrom,
  resolveHalt,
} from "@heliograph/store";
import type { NatsConnection } from "@nats-io/nats-core";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { adminAuthHook } from "./admin-auth.js";
import { operationsRoutes } from "./operations-routes.js";
import { type StreamTails, streamTailRoute } from "./stream-tail.js";

export interface AdminRoutesDeps {
  controlPlane: ControlPlane;
  redis: Redis;
  /** Announces halt resolutions (RESUME_SUBJECT) to the sequencers. */
  nc: NatsConnection;
  adminToken: string;
  /** How long a skipped publish's record answers status lookups (APPLIED_TTL_SECONDS). */
  appliedTtlSeconds: number;
  /** WEBHOOK_ALLOW_PRIVATE_TARGETS: accept webhook URLs on private, loopback or link-local addresses. */
  allowPrivateWebhookTargets?: boolean;
  /** INGEST partition count (PARTITIONS), for the partitions' leases and lag. */
  partitions: number;
  /** The live tails of this process (ADMIN_TAIL_LIMIT). */
  tails: StreamTails;
  log: Logger;
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

/** Error answers of an admin call: its own codes, and those of any call. */
const adminErrors = (...codes: ErrorCode[]) =>
  errorResponses(["VALIDATION_FAILED", "AUTH_MISSING", "AUTH_INVALID", ...codes, "SERVICE_UNAVAILABLE"], ADMIN_NOTES);
/** The same for a call with a JSON body. */
const adminBodyErrors = (...codes: ErrorCode[]) =>
  adminErrors("MALFORMED_JSON", "BODY_TOO_DEEP", "BODY_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE", ...codes);

const ADMIN_NOTES: Partial<Record<ErrorCode, string>> = {
  STREAM_NOT_FOUND: "the stream has no events and no halt",
  STREAM_NOT_HALTED: "the stream is live",
  HALT_CHANGED: "the halt is not the one `ingest_id` names; list the halts again",
  STREAM_FORBIDDEN: "the subscriber is not entitled to the stream",
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
      | "IDEA_CHANNEL_NOT_FOUND"
      | "WEBHOOK_NOT_FOUND",
  ): T => {
    if (value === undefined) throw new HeliographError(code);
    return value;
  };

  return async (scope) => {
    scope.addHook("onRequest", adminAuthHook(deps.adminToken));
    // Child plugins inherit the bearer check above.
    await scope.register(
      operationsRoutes({ controlPlane: cp, redis: deps.redis, nc: deps.nc, partitions: deps.partitions }),
    );
    await scope.register(streamTailRoute({ redis: deps.redis, nc: deps.nc, tails: deps.tails, log: deps.log }));

    scope.post(
      "/publishers",
      {
        schema: {
          summary: "Create a publisher",
          description: "Creates a publisher. The answer holds its API secret, which cannot be read again.",
          tags: ["admin: publishers"],
          body: CreatePublisherRequest,
          response: { 201: PublisherCredentials, ...adminBodyErrors("PUBLISHER_EXISTS") },
        },
      },
      async (req, reply) => reply.code(201).send(await fromBackingService(() => cp.createPublisher(req.body))),
    );
    scope.get(
      "/publishers",
      {
        schema: {
          summary: "List publishers",
          description: "Lists publishers (without secrets).",
          tags: ["admin: publishers"],
          response: { 200: z.array(Publisher), ...adminErrors() },
        },
      },
      async () => fromBackingService(() => cp.listPublishers()),
    );
    scope.get(
      "/publishers/:id",
      {
        schema: {
          summary: "Read a publisher",
          description: "One publisher (without its secret).",
          tags: ["admin: publishers"],
          params: TextId,
          response: { 200: Publisher, ...adminErrors("PUBLISHER_NOT_FOUND") },
        },
      },
      async (req) => found(await fromBackingService(() => cp.getPublisher(req.params.id)), "PUBLISHER_NOT_FOUND"),
    );
    scope.post(
      "/publishers/:id/rotate-secret",
      {
        schema: {
          summary: "Rotate a publisher's key and secret",
          description: "Issues a new API key and secret; the old ones stop working at once.",
          tags: ["admin: publishers"],
          params: TextId,
          response: { 200: PublisherCredentials, ...adminErrors("PUBLISHER_NOT_FOUND") },
        },
      },
      async (req) => fromBackingService(() => cp.rotatePublisherSecret(req.params.id)),
    );

    scope.post(
      "/publishers/:id/revoke",
      {
        schema: {
          summary: "Revoke a publisher's key",
          description:
            "Revokes a publisher's key: every instance refuses it within a second (401). The publisher, its " +
            "resources, algorithms and channels stay; rotate-secret issues a working key again.",
          tags: ["admin: publishers"],
          params: TextId,
          response: { 200: Publisher, ...adminErrors("PUBLISHER_NOT_FOUND") },
        },
      },
      async (req) => fromBackingService(() => cp.revokePublisher(req.params.id)),
    );
    scope.delete(
      "/publishers/:id",
      {
        schema: {
          summary: "Delete a publisher",
          description:
            "Deletes a publisher and its key (refused everywhere within a second). Its resources, algorithms and " +
            "idea channels and their streams stay; nobody can publish to them until a publisher of the same id " +
            "is created again.",
          tags: ["admin: publishers"],
          params: TextId,
          response: { 204: z.null().describe("Deleted"), ...adminErrors("PUBLISHER_NOT_FOUND") },
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
          summary: "Create a resource",
          description:
            "Creates a resource of a publisher with its key_value_type_pairs (e.g. " +
            '{"Symbol":"STRING","Retracement channels":"ARRAY"}; {"type":"STRING","optional":true} for an optional key).',
          tags: ["admin: resources"],
          body: CreateResourceRequest,
          response: { 201: Resource, ...adminBodyErrors("PUBLISHER_NOT_FOUND", "RESOURCE_EXISTS") },
        },
      },
      async (req, reply) => reply.code(201).send(await fromBackingService(() => cp.createResource(req.body))),
    );
    scope.get(
      "/resources",
      {
        schema: {
          summary: "List resources",
          description: "Lists resources.",
          tags: ["admin: resources"],
          response: { 200: z.array(Resource), ...adminErrors() },
        },
      },
      async () => fromBackingService(() => cp.listResources()),
    );
    scope.get(
      "/resources/:id",
      {
        schema: {
          summary: "Read a resource",
          description: "One resource.",
          tags: ["admin: resources"],
          params: NumericId,
          response: { 200: Resource, ...adminErrors("RESOURCE_NOT_FOUND") },
        },
      },
      async (req) => found(await fromBackingService(() => cp.getResource(req.params.id)), "RESOURCE_NOT_FOUND"),
    );
    scope.delete(
      "/resources/:id",
      {
        schema: {
          summary: "Delete a resource",
          description:
            "Deletes a resource: publishes to it are refused (404 RESOURCE_NOT_FOUND) on every gateway within a " +
            "second. Its stream stays readable (its events in Redis and EVENTS, entitlements and webhook endpoints " +
            "naming it stay); publishes accepted before are still numbered. Created again with the same id, it " +
            "continues the same stream.",
          tags: ["admin: resources"],
          params: NumericId,
          response: { 204: z.null().describe("Deleted"), ...adminErrors("RESOURCE_NOT_FOUND") },
        },
      },
      async (req, reply) => {
        await fromBackingService(() => cp.deleteResource(req.params.id));
        req.log.info({ resource_id: req.params.id }, "resource deleted");
        return reply.code(204).send(null);
      },
    );

    scope.post(
      "/algorithms",
      {
        schema: {
          summary: "Create an algorithm",
          description: "Creates an algorithm of a publisher; its signals go to the stream algorithm-<id>.",
          tags: ["admin: algorithms"],
          body: CreateAlgorithmRequest,
          response: { 201: Algorithm, ...adminBodyErrors("PUBLISHER_NOT_FOUND", "ALGORITHM_EXISTS") },
        },
      },
      async (req, reply) => reply.code(201).send(await fromBackingService(() => cp.createAlgorithm(req.body))),
    );
    scope.get(
      "/algorithms",
      {
        schema: {
          summary: "List algorithms",
          description: "Lists algorithms.",
          tags: ["admin: algorithms"],
          response: { 200: z.array(Algorithm), ...adminErrors() },
        },
      },
      async () => fromBackingService(() => cp.listAlgorithms()),
    );
    scope.get(
      "/algorithms/:id",
      {
        schema: {
          summary: "Read an algorithm",
          description: "One algorithm.",
          tags: ["admin: algorithms"],
          params: NumericId,
          response: { 200: Algorithm, ...adminErrors("ALGORITHM_NOT_FOUND") },
        },
      },
      async (req) => found(await fromBackingService(() => cp.getAlgorithm(req.params.id)), "ALGORITHM_NOT_FOUND"),
    );
    scope.delete(
      "/algorithms/:id",
      {
        schema: {
          summary: "Delete an algorithm",
          description:
            "Deletes an algorithm: its signals are refused (404 ALGORITHM_NOT_FOUND) on every gateway within a " +
            "second. Its stream stays readable (its events in Redis and EVENTS, entitlements and webhook endpoints " +
            "naming it stay); signals accepted before are still numbered. Created again with the same id, it " +
            "continues the same stream.",
          tags: ["admin: algorithms"],
          params: NumericId,
          response: { 204: z.null().describe("Deleted"), ...adminErrors("ALGORITHM_NOT_FOUND") },
        },
      },
      async (req, reply) => {
        await fromBackingService(() => cp.deleteAlgorithm(req.params.id));
        req.log.info({ algorithm_id: req.params.id }, "algorithm deleted");
        return reply.code(204).send(null);
      },
    );

    scope.post(
      "/subscribers",
      {
        schema: {
          summary: "Create a subscriber",
          description:
            "Creates a subscriber entitled to the given streams. The answer holds its bearer token, which cannot be read again.",
          tags: ["admin: subscribers"],
          body: CreateSubscriberRequest,
          response: { 201: SubscriberCredentials, ...adminBodyErrors("SUBSCRIBER_EXISTS") },
        },
      },
      async (req, reply) => reply.code(201).send(await fromBackingService(() => cp.createSubscriber(req.body))),
    );
    scope.get(
      "/subscribers",
      {
        schema: {
          summary: "List subscribers",
          description: "Lists subscribers with their entitlements.",
          tags: ["admin: subscribers"],
          response: { 200: z.array(Subscriber), ...adminErrors() },
        },
      },
      async () => fromBackingService(() => cp.listSubscribers()),
    );
    scope.get(
      "/subscribers/:id",
      {
        schema: {
          summary: "Read a subscriber",
          description: "One subscriber with its entitlements.",
          tags: ["admin: subscribers"],
          params: TextId,
          response: { 200: Subscriber, ...adminErrors("SUBSCRIBER_NOT_FOUND") },
        },
      },
      async (req) => found(await fromBackingService(() => cp.getSubscriber(req.params.id)), "SUBSCRIBER_NOT_FOUND"),
    );
    scope.put(
      "/subscribers/:id/streams",
      {
        schema: {
          summary: "Set a subscriber's entitlements",
          description: "Replaces the set of streams the subscriber may read.",
          tags: ["admin: subscribers"],
          params: TextId,
          body: SetEntitlementsRequest,
          response: { 200: Subscriber, ...adminBodyErrors("SUBSCRIBER_NOT_FOUND") },
        },
      },
      async (req) => fromBackingService(() => cp.setEntitlements(req.params.id, req.body.streams)),
    );

    scope.post(
      "/subscribers/:id/rotate-token",
      {
        schema: {
          summary: "Rotate a subscriber's token",
          description:
            "Issues a new bearer token; the old one is refused on every instance within a second and its held " +
            "long polls end. A revoked subscriber is active again.",
          tags: ["admin: subscribers"],
          params: TextId,
          response: { 200: SubscriberCredentials, ...adminErrors("SUBSCRIBER_NOT_FOUND") },
        },
      },
      async (req) => fromBackingService(() => cp.rotateSubscriberToken(req.params.id)),
    );
    scope.post(
      "/subscribers/:id/revoke",
      {
        schema: {
          summary: "Revoke a subscriber's token",
          description:
            "Revokes a subscriber's token: refused on every instance within a second (401), held long polls " +
            "end. Entitlements are kept; rotate-token issues a working token again.",
          tags: ["admin: subscribers"],
          params: TextId,
          response: { 200: Subscriber, ...adminErrors("SUBSCRIBER_NOT_FOUND") },
        },
      },
      async (req) => fromBackingService(() => cp.revokeSubscriber(req.params.id)),
    );
    scope.delete(
      "/subscribers/:id",
      {
        schema: {
          summary: "Delete a subscriber",
          description:
            "Deletes a subscriber, its token and entitlements: refused everywhere within a second, held long " +
            "polls end.",
          tags: ["admin: subscribers"],
          params: TextId,
          response: { 204: z.null().describe("Deleted"), ...adminErrors("SUBSCRIBER_NOT_FOUND") },
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
          summary: "Create an idea channel",
          description: "Creates an idea channel of a publisher; its ideas go to the stream ideas-<id>.",
          tags: ["admin: idea channels"],
          body: CreateIdeaChannelRequest,
          response: { 201: IdeaChannel, ...adminBodyErrors("PUBLISHER_NOT_FOUND", "IDEA_CHANNEL_EXISTS") },
        },
      },
      async (req, reply) => reply.code(201).send(await fromBackingService(() => cp.createIdeaChannel(req.body))),
    );
    scope.get(
      "/channels",
      {
        schema: {
          summary: "List idea channels",
          description: "Lists idea channels.",
          tags: ["admin: idea channels"],
          response: { 200: z.array(IdeaChannel), ...adminErrors() },
        },
      },
      async () => fromBackingService(() => cp.listIdeaChannels()),
    );
    scope.get(
      "/channels/:id",
      {
        schema: {
          summary: "Read an idea channel",
          description: "One idea channel.",
          tags: ["admin: idea channels"],
          params: ChannelParams,
          response: { 200: IdeaChannel, ...adminErrors("IDEA_CHANNEL_NOT_FOUND") },
        },
      },
      async (req) => found(await fromBackingService(() => cp.getIdeaChannel(req.params.id)), "IDEA_CHANNEL_NOT_FOUND"),
    );
    scope.delete(
      "/channels/:id",
      {
        schema: {
          summary: "Delete an idea channel",
          description:
            "Deletes an idea channel: idea calls on it are refused (404 IDEA_CHANNEL_NOT_FOUND) on every gateway " +
            "within a second. Its stream stays readable (its events in Redis and EVENTS, entitlements and webhook " +
            "endpoints naming it stay); calls accepted before are still numbered. Created again with the same id, it " +
            "continues the same stream, open ideas included.",
          tags: ["admin: idea channels"],
          params: ChannelParams,
          response: { 204: z.null().describe("Deleted"), ...adminErrors("IDEA_CHANNEL_NOT_FOUND") },
        },
      },
      async (req, reply) => {
        await fromBackingService(() => cp.deleteIdeaChannel(req.params.id));
        req.log.info({ channel_id: req.params.id }, "idea channel deleted");
        return reply.code(204).send(null);
      },
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

    const webhook = async (id: string) =>
      found(await fromBackingService(() => cp.getWebhookEndpoint(id)), "WEBHOOK_NOT_FOUND");
    const webhookDetail = async (endpoint: WebhookEndpoint): Promise<WebhookEndpointDetail> => {
      const position = await fromBackingService(() => readWebhookPosition(deps.redis, endpoint.id));
      return { ...endpoint, position: position ?? endpoint.start_after };
    };
    scope.post(
      "/webhooks",
      {
        schema: {
          summary: "Register a webhook endpoint",
          description:
            "Registers a webhook endpoint: the dispatcher POSTs the events of `stream_id` to `url`, in number order, " +
            "signed per Standard Webhooks. The subscriber must be entitled to the stream. The answer holds the " +
            "signing secret (`whsec_…`), which cannot be read again. `from`: the first event number to deliver " +
            "(default: the events numbered from now on). A URL resolving to a private, loopback or link-local " +
            "address is refused (422 WEBHOOK_TARGET_FORBIDDEN) unless WEBHOOK_ALLOW_PRIVATE_TARGETS=true.",
          tags: ["admin: webhooks"],
          body: CreateWebhookEndpointRequest,
          response: {
            201: WebhookEndpointCreated,
            ...adminBodyErrors(
              "SUBSCRIBER_NOT_FOUND",
              "STREAM_FORBIDDEN",
              "WEBHOOK_EXISTS",
              "WEBHOOK_TARGET_FORBIDDEN",
            ),
          },
        },
      },
      async (req, reply) => {
        if (!deps.allowPrivateWebhookTargets) {
          const refused = await nonPublicTarget(req.body.url);
          if (refused !== undefined)
            throw new HeliographError("WEBHOOK_TARGET_FORBIDDEN", { details: [{ path: "url", message: refused }] });
        }
        const created = await fromBackingService(async () => {
          const startAfter =
            req.body.from === undefined
              ? (await readStreamState(deps.redis, req.body.stream_id)).head
              : req.body.from - 1;
          return cp.createWebhookEndpoint(req.body, startAfter);
        });
        return reply.code(201).send(created);
      },
    );
    scope.get(
      "/webhooks",
      {
        schema: {
          summary: "List webhook endpoints",
          description: "Lists webhook endpoints (without secrets).",
          tags: ["admin: webhooks"],
          response: { 200: z.array(WebhookEndpoint), ...adminErrors() },
        },
      },
      async () => fromBackingService(() => cp.listWebhookEndpoints()),
    );
    scope.get(
      "/webhooks/:id",
      {
        schema: {
          summary: "Read a webhook endpoint",
          description:
            "One webhook endpoint (without its secret), its status and last error, and its position: the last " +
            "event number delivered.",
          tags: ["admin: webhooks"],
          params: TextId,
          response: { 200: WebhookEndpointDetail, ...adminErrors("WEBHOOK_NOT_FOUND") },
        },
      },
      async (req) => webhookDetail(await webhook(req.params.id)),
    );
    scope.delete(
      "/webhooks/:id",
      {
        schema: {
          summary: "Delete a webhook endpoint",
          description: "Deletes a webhook endpoint, its position and its delivery log; deliveries stop within seconds.",
          tags: ["admin: webhooks"],
          params: TextId,
          response: { 204: z.null(), ...adminErrors("WEBHOOK_NOT_FOUND") },
        },
      },
      async (req, reply) => {
        await fromBackingService(() => cp.deleteWebhookEndpoint(req.params.id));
        await fromBackingService(() => deleteWebhookState(deps.redis, req.params.id));
        return reply.code(204).send(null);
      },
    );
    for (const [action, status] of [
      ["pause", "paused"],
      ["resume", "active"],
    ] as const)
      scope.post(
        `/webhooks/:id/${action}`,
        {
          schema: {
            summary: action === "pause" ? "Pause a webhook endpoint" : "Resume a webhook endpoint",
            description:
              action === "pause"
                ? "Pauses deliveries to the endpoint (an event in flight still completes)."
                : "Resumes deliveries from the endpoint's position, with a whole retry window again.",
            tags: ["admin: webhooks"],
            params: TextId,
            response: { 200: WebhookEndpointDetail, ...adminErrors("WEBHOOK_NOT_FOUND") },
          },
        },
        async (req) => {
          if (status === "active") await fromBackingService(() => clearWebhookFailure(deps.redis, req.params.id));
          return webhookDetail(await fromBackingService(() => cp.setWebhookStatus(req.params.id, status)));
        },
      );
    scope.post(
      "/webhooks/:id/rotate-secret",
      {
        schema: {
          summary: "Rotate a webhook endpoint's signing secret",
          description:
            "Issues a new signing secret, shown once. For `grace_seconds` (default a day; 0 = at once) deliveries " +
            "carry a signature with the old secret too, so the receiver can switch without refusing any.",
          tags: ["admin: webhooks"],
          params: TextId,
          // No body at all is the default grace, as in the README: fastify hands the schema null for
          // it (as for a JSON `null`, which means the same here).
          body: RotateWebhookSecretRequest.nullish(),
          response: { 200: WebhookEndpointCreated, ...adminBodyErrors("WEBHOOK_NOT_FOUND") },
        },
      },
      async (req) =>
        fromBackingService(() =>
          cp.rotateWebhookSecret(req.params.id, RotateWebhookSecretRequest.parse(req.body ?? {}).grace_seconds),
        ),
    );
    scope.post(
      "/webhooks/:id/replay",
      {
        schema: {
          summary: "Replay a webhook endpoint from an event",
          description:
            "Sets the endpoint's position: the next event delivered is `from` (earlier events are delivered again, " +
            "with the same webhook-id). A delivery in flight completes first; an event being retried is given up at " +
            "its next retry.",
          tags: ["admin: webhooks"],
          params: TextId,
          body: ReplayWebhookRequest,
          response: { 200: WebhookEndpointDetail, ...adminBodyErrors("WEBHOOK_NOT_FOUND") },
        },
      },
      async (req) => {
        const endpoint = await webhook(req.params.id);
        await fromBackingService(() => replayWebhookFrom(deps.redis, endpoint.id, req.body.from));
        return webhookDetail(endpoint);
      },
    );
    scope.get(
      "/webhooks/:id/attempts",
      {
        schema: {
          summary: "Read a webhook endpoint's delivery log",
          description:
            "The endpoint's delivery log, newest first: event number, HTTP status (absent when none came), " +
            "latency and error of the last attempts.",
          tags: ["admin: webhooks"],
          params: TextId,
          response: { 200: z.array(WebhookAttempt), ...adminErrors("WEBHOOK_NOT_FOUND") },
        },
      },
      async (req) => {
        const endpoint = await webhook(req.params.id);
        return fromBackingService(() => readWebhookAttempts(deps.redis, endpoint.id));
      },
    );

    scope.get(
      "/halts",
      {
        schema: {
          summary: "List halted streams",
          description:
            "Every halted stream: why, since when, the offending publish (its ingest id and event) and how many " +
            "publishes are held behind it.",
          tags: ["admin: streams"],
          response: { 200: z.array(StreamHalt), ...adminErrors() },
        },
      },
      async () => fromBackingService(() => listHaltedStreams(deps.redis)),
    );
    scope.get(
      "/streams/:stream_id/halt",
      {
        schema: {
          summary: "Read a stream's halt",
          description:
            "A halted stream's halt with the offending event. 409 STREAM_NOT_HALTED when the stream is live; " +
            "404 STREAM_NOT_FOUND when it has no events and no halt.",
          tags: ["admin: streams"],
          params: StreamParams,
          response: { 200: StreamHalt, ...adminErrors("STREAM_ID_INVALID", "STREAM_NOT_FOUND", "STREAM_NOT_HALTED") },
        },
      },
      async (req) => haltOf(streamIdOf(req.params)),
    );
    scope.post(
      "/streams/:stream_id/resolve",
      {
        schema: {
          summary: "Resolve a stream's halt (skip or retry)",
          description:
            "Resolves a halt: `skip` parks the offending publish (kept in the parked list) and goes on; `retry` " +
            "numbers it again, with `data` as its fixed data when given. `ingest_id` guards against resolving " +
            "another halt than the one looked at (409 HALT_CHANGED). The stream's sequencer resumes at once.",
          tags: ["admin: streams"],
          params: StreamParams,
          body: ResolveHaltRequest,
          response: {
            200: ResolveHaltAnswer,
            ...adminBodyErrors("STREAM_ID_INVALID", "STREAM_NOT_FOUND", "STREAM_NOT_HALTED", "HALT_CHANGED"),
          },
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
          summary: "List a stream's parked publishes",
          description: "The publishes operators skipped on this stream, oldest first; they are kept, never deleted.",
          tags: ["admin: streams"],
          params: StreamParams,
          response: { 200: z.array(ParkedPublish), ...adminErrors("STREAM_ID_INVALID") },
        },
      },
      async (req) => fromBackingService(() => readParked(deps.redis, streamIdOf(req.params))),
    );

    scope.get(
      "/streams/:stream_id",
      {
        schema: {
          summary: "Read a stream's head and status",
          description:
            "A stream's head (last event number, -1 when empty), status (live or halted) and the number of " +
            "publishes held behind a halt.",
          tags: ["admin: streams"],
          params: StreamParams,
          response: { 200: StreamInfo, ...adminErrors("STREAM_ID_INVALID") },
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
