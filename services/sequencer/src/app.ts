import { createHttpApp, type HttpApp, type Logger, type NatsConnection, type Registry } from "@heliograph/platform";
import type { Redis } from "ioredis";

export interface AppDeps {
  log: Logger;
  metrics: Registry;
  nc: NatsConnection;
  redis: Redis;
}

/** The sequencer's HTTP surface: health, readiness and metrics only. It never listens by itself. */
export function buildApp(deps: AppDeps): Promise<HttpApp> {
  return createHttpApp({
    logger: deps.log,
    service: "sequencer",
    description: "Numbers INGEST messages into the Redis log and the EVENTS stream.",
    metrics: deps.metrics,
    readiness: [
      {
        name: "nats",
        check: async () => {
          if (deps.nc.isClosed()) throw new Error("NATS connection is closed");
        },
      },
      { name: "redis", check: () => deps.redis.ping() },
    ],
  });
}
