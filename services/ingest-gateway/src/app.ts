import { ADMIN_AUTH, PUBLISHER_AUTH } from "@heliograph/contracts";
import {
  createHttpApp,
  createMetricsRegistry,
  type HttpApp,
  type Logger,
  natsPlugin,
  RateLimiter,
  type Redis,
  type Registry,
  redisPlugin,
} from "@heliograph/platform";
import { ControlPlane, openControlBucket, startControlCache } from "@heliograph/store";
import type { NatsConnection } from "@nats-io/nats-core";
import { adminRoutes } from "./admin-routes.js";
import type { IngestConfig } from "./config.js";
import { consoleFiles } from "./console-files.js";
import { IdempotencyStore } from "./idempotency.js";
import { IngestPublisher } from "./ingest-publisher.js";
import { publishRoutes } from "./publish-routes.js";
import { SequencedWaiters } from "./sequenced-waiters.js";
import { StreamTails } from "./stream-tail.js";

export interface IngestGatewayDeps {
  log: Logger;
  nc: NatsConnection;
  redis: Redis;
  config: IngestConfig;
  metrics?: Registry;
  /** The app drains NATS and quits Redis when it closes (a service process); tests sharing them leave it off. */
  ownConnections?: boolean;
}

/** The ingest gateway's two apps; neither listens by itself. */
export interface IngestGatewayApps {
  /** The public listener (PORT): the publisher API under /api/v1. It owns the connections. */
  app: HttpApp;
  /**
   * The admin listener (ADMIN_HOST:ADMIN_PORT, loopback unless set): the admin API under
   * /admin/v1, never served on the public port. Close it before `app`.
   */
  admin: HttpApp;
}

/** Builds the publisher API and the admin API on one set of connections and one control plane. */
export async function buildApp(deps: IngestGatewayDeps): Promise<IngestGatewayApps> {
  const { log, nc, redis, config } = deps;
  const metrics = deps.metrics ?? createMetricsRegistry("ingest-gateway");
  const readiness = [
    {
      name: "nats",
      check: async () => {
        if (nc.isClosed()) throw new Error("connection closed");
        return nc.flush();
      },
    },
    { name: "redis", check: () => redis.ping() },
  ];
  const app = await createHttpApp({
    logger: log,
    service: "ingest-gateway",
    description:
      "Publisher API (API-KEY + API-SECRET headers): upload resources, post trading signals, open, update and " +
      "close trade ideas, look a publish up. " +
      'Every error answers {"error":{"code","message","details"}}.',
    metrics,
    readiness,
    security: PUBLISHER_AUTH,
  });
  await app.register(redisPlugin, { client: redis, close: deps.ownConnections });
  await app.register(natsPlugin, { client: nc, close: deps.ownConnections });

  // The control plane (NATS KV). The publisher API reads through a cache that a KV watch keeps
  // right; it stops before NATS is drained (onClose hooks run in reverse order of registration).
  const controlBucket = await openControlBucket(nc, { replicas: config.JETSTREAM_REPLICAS });
  const controlCache =
    config.CONTROL_PLANE_CACHE_MS > 0
      ? await startControlCache(controlBucket, nc, {
          maxAgeMs: config.CONTROL_PLANE_CACHE_MS,
          log: log.child({ component: "control-cache" }),
        })
      : undefined;
  app.addHook("onClose", async () => controlCache?.close());
  const controlPlane = new ControlPlane(controlBucket, controlCache);

  // One subscription per process for every publish that waits for its number (X-Heliograph-Wait).
  const waiters = new SequencedWaiters(nc, log);
  // Waits end (202) when the app starts closing, so shutdown is not held up by them.
  app.addHook("preClose", async () => waiters.close());

  await app.register(
    publishRoutes({
      redis,
      waiters,
      limiter: new RateLimiter({ perSecond: config.PUBLISHER_RATE_LIMIT, burst: config.PUBLISHER_RATE_BURST }),
      controlPlane,
      idempotency: new IdempotencyStore(redis, config.IDEMPOTENCY_TTL_SECONDS, {
        reservationMs: config.PUBLISH_TIMEOUT_MS + 2_000,
        maxWaitMs: config.PUBLISH_TIMEOUT_MS + 2_000,
      }),
      publisher: new IngestPublisher(nc, {
        partitions: config.PARTITIONS,
        timeoutMs: config.PUBLISH_TIMEOUT_MS,
        metrics,
        log,
      }),
    }),
    { prefix: "/api/v1" },
  );

  const admin = await createHttpApp({
    logger: log.child({ component: "admin-api" }),
    service: "ingest-gateway admin",
    description:
      "Admin API (Authorization: Bearer <admin token>), on the admin listener only: publishers, resources, " +
      "algorithms, idea channels, subscribers (create, rotate, revoke, delete), webhook endpoints, streams and " +
      "their halts, partitions and sequencer instances, a live tail of a stream; and the operators' web console " +
      "at /console/. " +
      'Every error answers {"error":{"code","message","details"}}.',
    metrics,
    readiness,
    security: ADMIN_AUTH,
  });
  // Admin reads are not on a hot path and must see what was just written: no cache.
  await admin.register(
    adminRoutes({
      controlPlane: controlPlane.uncachedReads(),
      redis,
      nc,
      adminToken: config.ADMIN_TOKEN,
      appliedTtlSeconds: config.APPLIED_TTL_SECONDS,
      allowPrivateWebhookTargets: config.WEBHOOK_ALLOW_PRIVATE_TARGETS,
      partitions: config.PARTITIONS,
      tails: new StreamTails(config.ADMIN_TAIL_LIMIT),
      log: log.child({ component: "admin-api" }),
    }),
    { prefix: "/admin/v1" },
  );
  await admin.register(consoleFiles(config.CONSOLE_DIR));
  // Whoever closes the public app (runService after the admin listener, a test alone) closes the
  // admin app before the connections go; closing it twice is harmless.
  app.addHook("preClose", async () => admin.close());
  return { app, admin };
}
