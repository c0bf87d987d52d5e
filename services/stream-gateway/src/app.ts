import compress from "@fastify/compress";
import { DEFAULT_PARTITION_COUNT, SUBSCRIBER_AUTH } from "@heliograph/contracts";
import {
  Counter,
  createHttpApp,
  createMetricsRegistry,
  type HttpApp,
  type HttpScope,
  type Logger,
  type NatsConnection,
  natsPlugin,
  RateLimiter,
  type Redis,
  type Registry,
  redisPlugin,
} from "@heliograph/platform";
import { ControlPlane, openControlBucket, startControlCache, subscriberOfControlKey } from "@heliograph/store";
import type { StreamGatewayConfig } from "./config.js";
import type { StreamHub } from "./hub.js";
import { hubPlugin } from "./hub-plugin.js";
import { registerIdeaRoutes } from "./idea-routes.js";
import { coalescedStateReader, knownHeadCheck } from "./long-poll.js";
import { registerSseRoute, SseConnections } from "./sse.js";
import { registerStreamRoutes } from "./stream-routes.js";
import { StreamSource } from "./stream-source.js";
import { authenticateSubscribers, subscriberAccess } from "./subscriber-access.js";

export interface StreamGatewayDeps {
  log: Logger;
  nc: NatsConnection;
  redis: Redis;
  config: Pick<StreamGatewayConfig, "MAX_WAITERS" | "CONTROL_PLANE_CACHE_MS"> &
    Partial<Pick<StreamGatewayConfig, "SUBSCRIBER_RATE_LIMIT" | "SUBSCRIBER_RATE_BURST" | "JETSTREAM_REPLICAS">> &
    Partial<Pick<StreamGatewayConfig, "PARTITIONS" | "VERIFIED_STREAMS_MAX">> &
    Partial<Pick<StreamGatewayConfig, "MAX_WAITERS_PER_SUBSCRIBER" | "MAX_RESPONSE_BYTES">> &
    Partial<
      Pick<
        StreamGatewayConfig,
        "MAX_SSE_CONNECTIONS" | "MAX_SSE_CONNECTIONS_PER_SUBSCRIBER" | "SSE_HEARTBEAT_MS" | "SSE_DRAIN_TIMEOUT_MS"
      >
    >;
  metrics?: Registry;
  /** The app drains NATS and quits Redis when it closes (a service process); tests sharing them leave it off. */
  ownConnections?: boolean;
}

/** The HTTP app plus its waiter hub (stats for tests, drain/stop for shutdown) and its open event streams. */
export type StreamGatewayApp = HttpApp & { readonly hub: StreamHub; readonly sse: SseConnections };

/** Bodies smaller than this go uncompressed: compressing them costs more than it saves. */
export const COMPRESS_THRESHOLD_BYTES = 8 * 1024;

/**
 * The subscriber API. Starts the hub's JetStream consumer (the EVENTS stream must exist) and
 * never listens; closing the app answers held long polls with [] and stops the consumer.
 */
export async function buildApp(deps: StreamGatewayDeps): Promise<StreamGatewayApp> {
  const metrics = deps.metrics ?? createMetricsRegistry("stream-gateway");
  let hub: StreamHub | undefined;
  // Redis when it holds the stream's record, EVENTS while it is behind (stream-source.ts).
  const source = new StreamSource({
    redis: deps.redis,
    nc: deps.nc,
    log: deps.log.child({ component: "stream-source" }),
    metrics,
    partitions: deps.config.PARTITIONS ?? DEFAULT_PARTITION_COUNT,
    maxStreams: deps.config.VERIFIED_STREAMS_MAX ?? 100_000,
    maxResponseBytes: deps.config.MAX_RESPONSE_BYTES,
  });
  const app = await createHttpApp({
    logger: deps.log,
    service: "stream-gateway",
    description: "Subscriber reads of Heliograph streams over HTTP long polling and Server-Sent Events",
    metrics,
    security: SUBSCRIBER_AUTH,
    readiness: [
      { name: "nats", check: () => deps.nc.rtt() },
      { name: "redis", check: () => deps.redis.ping() },
      {
        name: "events-consumer",
        check: async () => {
          if (hub?.stats().consumers !== 1) throw new Error("not consuming EVENTS");
        },
      },
    ],
  });
  try {
    // Closed last-registered first: the hub's consumer stops before NATS is drained.
    await app.register(redisPlugin, { client: deps.redis, close: deps.ownConnections });
    await app.register(natsPlugin, { client: deps.nc, close: deps.ownConnections });
    app.addHook("onClose", async () => source.stop());
    await app.register(hubPlugin, {
      log: deps.log.child({ component: "hub" }),
      metrics,
      maxWaiters: deps.config.MAX_WAITERS,
      maxWaitersPerSubscriber: deps.config.MAX_WAITERS_PER_SUBSCRIBER,
      onRecorded: (streamId, eventNumber) => source.noteRecorded(streamId, eventNumber),
    });
    hub = (app as StreamGatewayApp).hub;
    const sse = new SseConnections({
      maxConnections: deps.config.MAX_SSE_CONNECTIONS ?? 10_000,
      maxPerSubscriber: deps.config.MAX_SSE_CONNECTIONS_PER_SUBSCRIBER,
      metrics,
    });
    app.decorate("sse", sse);
    // Ended before the server waits for in-flight requests, as held long polls are (hub-plugin.ts).
    app.addHook("preClose", async () => sse.closeAll());
    await app.register(compress, { global: true, threshold: COMPRESS_THRESHOLD_BYTES, encodings: ["br", "gzip"] });
    const reads = new Counter({
      name: "heliograph_stream_reads_total",
      help: "Stream reads by outcome: immediate, woken, rechecked, empty, released, aborted, shed, recent",
      labelNames: ["outcome"] as const,
      registers: [metrics],
    });
    // Tokens and entitlements from the control plane (NATS KV), through a cache a KV watch keeps
    // right; stopped before NATS is drained (onClose hooks run in reverse order of registration).
    const controlBucket = await openControlBucket(deps.nc, { replicas: deps.config.JETSTREAM_REPLICAS ?? 1 });
    const controlCache =
      deps.config.CONTROL_PLANE_CACHE_MS > 0
        ? await startControlCache(controlBucket, deps.nc, {
            maxAgeMs: deps.config.CONTROL_PLANE_CACHE_MS,
            log: deps.log.child({ component: "control-cache" }),
            // A revoked, deleted or re-entitled subscriber's held polls are decided again at
            // once, not when they would have ended (up to a minute later).
            onChange: (key) => {
              if (key === undefined) {
                hub?.reauthorize();
                sse.reauthorize();
              } else {
                const subscriberId = subscriberOfControlKey(key);
                if (subscriberId !== undefined) {
                  hub?.reauthorize(subscriberId);
                  sse.reauthorize(subscriberId);
                }
              }
            },
          })
        : undefined;
    app.addHook("onClose", async () => controlCache?.close());
    const access = subscriberAccess(
      new ControlPlane(controlBucket, controlCache),
      deps.log.child({ component: "subscriber-access" }),
      new RateLimiter({
        perSecond: deps.config.SUBSCRIBER_RATE_LIMIT ?? 0,
        burst: deps.config.SUBSCRIBER_RATE_BURST ?? 1,
      }),
    );
    const subscriberHub = hub;
    const readState = coalescedStateReader((streamId) => source.state(streamId));
    const atKnownHead = knownHeadCheck(
      subscriberHub,
      source,
      new Counter({
        name: "heliograph_stream_reads_skipped_total",
        help: "Long polls and SSE re-arms at the head the hub knows that waited without reading Redis",
        registers: [metrics],
      }),
    );
    await app.register(async (scope: HttpScope) => {
      authenticateSubscribers(scope, access);
      registerStreamRoutes(scope, {
        source,
        access,
        hub: subscriberHub,
        reads,
        readState,
        atKnownHead,
        log: deps.log.child({ component: "stream-routes" }),
      });
      registerSseRoute(scope, {
        source,
        access,
        hub: subscriberHub,
        reads,
        readState,
        atKnownHead,
        connections: sse,
        heartbeatMs: deps.config.SSE_HEARTBEAT_MS ?? 15_000,
        drainTimeoutMs: deps.config.SSE_DRAIN_TIMEOUT_MS ?? 30_000,
        log: deps.log.child({ component: "sse" }),
      });
      registerIdeaRoutes(scope, {
        redis: deps.redis,
        source,
        access,
        metrics,
        log: deps.log.child({ component: "idea-routes" }),
      });
    });
    return app as StreamGatewayApp;
  } catch (err) {
    // Stops whatever was registered (the hub's consumer) in reverse order.
    await app.close();
    source.stop();
    throw err;
  }
}
