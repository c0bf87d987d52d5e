import {
  createHttpApp,
  type HttpApp,
  type Logger,
  type NatsConnection,
  natsPlugin,
  type Redis,
  type Registry,
  redisPlugin,
} from "@heliograph/platform";

export interface AppDeps {
  log: Logger;
  metrics: Registry;
  nc: NatsConnection;
  redis: Redis;
  /** Partition workers to stop when the app closes, before NATS is drained and Redis quit. */
  workers?: { stop(): Promise<void> };
  /** The app drains NATS and quits Redis when it closes (a service process); tests sharing them leave it off. */
  ownConnections?: boolean;
}

/** The sequencer's HTTP surface: health, readiness and metrics only. It never listens by itself. */
export async function buildApp(deps: AppDeps): Promise<HttpApp> {
  const app = await createHttpApp({
    logger: deps.log,
    service: "sequencer",
    description: "Numbers INGEST messages into the Redis log and the EVENTS stream.",
    metrics: deps.metrics,
    readiness: [
      {
        name: "nats",
        // A round trip, not only "not closed": while the client reconnects it is not closed, yet
        // nothing is consumed or numbered, and a balancer or operator must see that.
        check: async () => {
          if (deps.nc.isClosed()) throw new Error("NATS connection is closed");
          await deps.nc.flush();
        },
      },
      { name: "redis", check: () => deps.redis.ping() },
    ],
  });
  // Closed last-registered first: the workers stop, then NATS is drained, then Redis quit.
  await app.register(redisPlugin, { client: deps.redis, close: deps.ownConnections });
  await app.register(natsPlugin, { client: deps.nc, close: deps.ownConnections });
  const workers = deps.workers;
  if (workers) app.addHook("onClose", async () => workers.stop());
  return app;
}
