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

/** A Lua script ioredis sends as a command of its own (EVALSHA, EVAL once when not cached). */
export interface RedisScript {
  lua: string;
  /** Omitted: the caller passes the key count as the first argument. */
  numberOfKeys?: number;
}

const definedScripts = new WeakMap<Redis, Set<string>>();

/**
 * Defines Lua commands on a connection, once each, and returns it typed with them. Call it before
 * the connection sends anything (where the component using the scripts is built): with
 * auto-pipelining, a command defined while commands of the same tick are queued is missing from
 * their pipeline, whose callbacks then go out of step with its replies (a promise that never
 * settles, or "results[i] is not iterable").
 */
export function defineRedisScripts<C>(redis: Redis, scripts: Record<string, RedisScript>): Redis & C {
  let names = definedScripts.get(redis);
  if (!names) {
    names = new Set();
    definedScripts.set(redis, names);
  }
  for (const [name, script] of Object.entries(scripts)) {
    if (names.has(name)) continue;
    redis.defineCommand(name, script);
    names.add(name);
  }
  return redis as Redis & C;
}
