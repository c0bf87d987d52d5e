import { Redis } from "ioredis";
import type { Logger } from "pino";

export { Redis } from "ioredis";

/**
 * Connects to Redis and reconnects forever with a capped backoff. A command issued while
 * disconnected or stalled fails within about 1.5 s, so a request gets a clear 503 rather than
 * hanging; the sequencer retries its step, which is idempotent.
 */
export async function connectRedis(url: string, log: Logger, name: string): Promise<Redis> {
  const redisLog = log.child({ component: "redis" });
  const redis = new Redis(url, {
    connectionName: name,
    lazyConnect: true,
    // A request must fail fast with a clear 503 when Redis is down or stalled, not after the
    // client's own timeout: one retry across a reconnect, and no command waits over 1.5 s.
    maxRetriesPerRequest: 1,
    commandTimeout: 1_500,
    enableAutoPipelining: true,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2_000),
  });
  // ioredis emits "error" on every failed reconnect; without a listener Node would crash.
  redis.on("error", (err) => redisLog.warn({ err }, "Redis connection error"));
  redis.on("reconnecting", () => redisLog.info("Redis reconnecting"));
  redis.on("ready", () => redisLog.debug("Redis ready"));
  await redis.connect();
  redisLog.info("connected to Redis");
  return redis;
}
