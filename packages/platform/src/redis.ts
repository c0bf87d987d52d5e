import { Cluster, Redis as SingleRedis } from "ioredis";
import type { Logger } from "pino";

export { Cluster } from "ioredis";

/**
 * A Redis connection: one server (`new Redis(url)`) or a Redis Cluster (ioredis `Cluster`). Every
 * command Heliograph sends works on both: the keys of one stream share a hash tag, no script or
 * pipeline spans slots (docs/architecture.md, "Redis Cluster").
 */
export type Redis = SingleRedis | Cluster;

/**
 * The seed nodes when `url` names a Redis Cluster, else undefined: several comma-separated URLs, or
 * a `redis-cluster://` (`rediss-cluster://` with TLS) URL, which names a cluster even alone: a
 * managed service's one configuration endpoint, or any one node (the client learns the rest).
 */
export function redisClusterSeeds(url: string): URL[] | undefined {
  const urls = url
    .split(",")
    .map((u) => u.trim())
    .filter((u) => u !== "");
  // One plain URL is left to ioredis to parse, as it always was.
  const cluster = urls.length > 1 || urls.some((u) => /^rediss?-cluster:/.test(u));
  return cluster ? urls.map((u) => new URL(u)) : undefined;
}

const TLS_SCHEMES = new Set(["rediss:", "rediss-cluster:"]);

/** True when the connection is a Redis Cluster client. */
export function isRedisCluster(redis: Redis): redis is Cluster {
  return redis instanceof Cluster;
}

// A request must fail fast with a clear 503 when Redis is down or stalled, not after the client's
// own timeout: one retry across a reconnect, and no command waits over 1.5 s.
const COMMAND_OPTIONS = { maxRetriesPerRequest: 1, commandTimeout: 1_500 } as const;

/**
 * Connects to Redis and reconnects forever with a capped backoff. A command issued while
 * disconnected or stalled fails within about 1.5 s, so a request gets a clear 503 rather than
 * hanging; the sequencer retries its step, which is idempotent.
 *
 * `url` is one `redis://` URL (a single server); or a Redis Cluster's seed nodes (any few of its
 * nodes; the client learns the rest): several URLs, comma-separated, or one or more
 * `redis-cluster://` / `rediss-cluster://` URLs. A cluster's credentials and TLS come from the first
 * URL and apply to every node.
 */
export async function connectRedis(url: string, log: Logger, name: string): Promise<Redis> {
  const redisLog = log.child({ component: "redis" });
  const seeds = redisClusterSeeds(url);
  const redis: Redis = seeds ? clusterClient(seeds, name) : singleClient(url, name);
  // ioredis emits "error" on every failed reconnect; without a listener Node would crash.
  redis.on("error", (err) => redisLog.warn({ err }, "Redis connection error"));
  redis.on("reconnecting", () => redisLog.info("Redis reconnecting"));
  redis.on("ready", () => redisLog.debug("Redis ready"));
  if (seeds) {
    redis.on("node error", (err: Error, node: string) => redisLog.warn({ err, node }, "Redis Cluster node error"));
    redis.on("+node", (node: SingleRedis) => redisLog.debug({ node: nodeName(node) }, "Redis Cluster node added"));
    redis.on("-node", (node: SingleRedis) => redisLog.info({ node: nodeName(node) }, "Redis Cluster node removed"));
  }
  await redis.connect();
  redisLog.info(seeds ? { nodes: seeds.length } : {}, seeds ? "connected to Redis Cluster" : "connected to Redis");
  return redis;
}

function singleClient(url: string, name: string): SingleRedis {
  return new SingleRedis(url, {
    ...COMMAND_OPTIONS,
    connectionName: name,
    lazyConnect: true,
    enableAutoPipelining: true,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2_000),
  });
}

function clusterClient(seeds: URL[], name: string): Cluster {
  const [first] = seeds as [URL, ...URL[]];
  return new Cluster(
    seeds.map((u) => ({ host: u.hostname, port: Number(u.port || 6379) })),
    {
      lazyConnect: true,
      enableAutoPipelining: true,
      // While the cluster client is not ready (every node lost, or closed by us) a command fails at
      // once, as on a single server after its one retry: queued, it would wait for a reconnect
      // that may never come (commandTimeout only starts once a node has the command).
      enableOfflineQueue: false,
      // A promoted replica is found within a second even when no command was refused by the old
      // master (a client that only reads another slot); the default (5 s) once left a gateway
      // answering 503 for one slot for over 20 s after a failover under load.
      slotsRefreshInterval: 1_000,
      slotsRefreshTimeout: 1_000,
      // MOVED/ASK/CLUSTERDOWN/TRYAGAIN during a failover: retry shortly rather than fail at once;
      // commandTimeout still bounds the whole wait.
      retryDelayOnFailover: 100,
      retryDelayOnClusterDown: 100,
      retryDelayOnTryAgain: 100,
      maxRedirections: 16,
      clusterRetryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2_000),
      redisOptions: {
        ...COMMAND_OPTIONS,
        connectionName: name,
        username: first.username ? decodeURIComponent(first.username) : undefined,
        password: first.password ? decodeURIComponent(first.password) : undefined,
        tls: TLS_SCHEMES.has(first.protocol) ? {} : undefined,
      },
      // With TLS, nodes are reached by the names the cluster announces, not by the addresses ioredis
      // would resolve them to first: a managed cluster's certificate names its hosts, not its IPs.
      ...(TLS_SCHEMES.has(first.protocol)
        ? { dnsLookup: (address: string, callback: (err: null, address: string) => void) => callback(null, address) }
        : {}),
    },
  );
}

const nodeName = (node: SingleRedis) => `${node.options.host}:${node.options.port}`;

/**
 * Calls `listener` whenever the server behind some keys may have changed, so what was read from it
 * before can no longer be trusted to still be there (Redis came back empty or behind, or a replica
 * that missed writes was promoted): a single server's connection became ready again; on a cluster,
 * a node's connection was made again, a node left, or a slot's master changed.
 * `onClose` also calls it as soon as a connection closes. Returns how to stop watching.
 */
export function onRedisServerChange(
  redis: Redis,
  listener: () => void,
  options: { onClose?: boolean } = {},
): () => void {
  if (!isRedisCluster(redis)) {
    const events = options.onClose ? ["ready", "close"] : ["ready"];
    for (const event of events) redis.on(event, listener);
    return () => {
      for (const event of events) redis.off(event, listener);
    };
  }
  // A node's first connection is not a change: nothing was read from it before. Only a node
  // connection made again (after a close) is, like a single server's reconnect.
  const watched = new Map<SingleRedis, () => void>();
  const watch = (node: SingleRedis) => {
    if (watched.has(node)) return;
    let wasReady = node.status === "ready";
    const ready = () => {
      if (wasReady) listener();
      wasReady = true;
    };
    const closed = () => {
      if (wasReady) listener();
    };
    node.on("ready", ready);
    if (options.onClose) node.on("close", closed);
    watched.set(node, () => {
      node.off("ready", ready);
      node.off("close", closed);
    });
  };
  const unwatch = (node: SingleRedis) => {
    watched.get(node)?.();
    watched.delete(node);
  };
  const added = (node: SingleRedis) => watch(node);
  const removed = (node: SingleRedis) => {
    unwatch(node);
    listener();
  };
  let masters = slotMasters(redis);
  const refreshed = () => {
    const now = slotMasters(redis);
    if (now !== masters) {
      masters = now;
      listener();
    }
  };
  for (const node of redis.nodes("all")) watch(node);
  redis.on("+node", added);
  redis.on("-node", removed);
  redis.on("refresh", refreshed);
  return () => {
    redis.off("+node", added);
    redis.off("-node", removed);
    redis.off("refresh", refreshed);
    for (const node of [...watched.keys()]) unwatch(node);
  };
}

/** Which node is master of each slot, as one text (compared between slot refreshes). */
function slotMasters(cluster: Cluster): string {
  const ranges: string[] = [];
  let from = 0;
  let master: string | undefined;
  for (let slot = 0; slot <= cluster.slots.length; slot++) {
    const current = cluster.slots[slot]?.[0];
    if (slot === cluster.slots.length || current !== master) {
      if (slot > 0) ranges.push(`${from}-${slot - 1}:${master ?? ""}`);
      from = slot;
      master = current;
    }
  }
  return ranges.join(",");
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
    // A script whose key count is its first argument is sent on its own on a cluster: ioredis
    // would put it in the auto-pipeline of the slot of that count, not of its first key, and the
    // pipeline then fails ("All keys in the pipeline should belong to the same slots allocation
    // group"). Commands still go out without waiting for each other's replies.
    if (script.numberOfKeys === undefined && isRedisCluster(redis)) {
      const ignored = redis.options.autoPipeliningIgnoredCommands ?? [];
      redis.options.autoPipeliningIgnoredCommands = [...ignored, name];
    }
  }
  return redis as Redis & C;
}
