import { execFile } from "node:child_process";
import { cpSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { isRedisCluster, type Redis } from "@heliograph/platform";
import { streamKeys } from "@heliograph/store";
import { dockerEngineRuns, startContainerServer } from "./containers.js";
import { freePort } from "./free-port.js";
import { which } from "./process.js";
import { type RedisClusterHandle, startRedisCluster } from "./redis-cluster.js";
import { ownedServer, type ServerHandle, unownedServer } from "./server-handle.js";
import { tempDataDir } from "./temp-dir.js";

export interface RedisServerHandle extends ServerHandle {
  /** Redis's data folder, with the AOF ("" when the harness does not own the server). */
  dir: string;
  /**
   * A copy of the data folder (its AOF: Redis 7 loads `appendonlydir/` at start) taken while the
   * process is stopped (SIGSTOP, copy, SIGCONT): every write Redis acknowledged before the stop (it
   * write()s the AOF before it answers) and none after, as a restore or a lagging replica would
   * bring back. Returns the copy's folder.
   */
  snapshot(): Promise<string>;
  /**
   * kill -9, then starts again on the same port and folder holding a copy of `snapshot` (which
   * stays usable), or nothing (`"empty"`): Redis coming back behind, or with no data at all.
   */
  restartFrom(snapshot: string | "empty"): Promise<void>;
  /**
   * Commands sent with redis-cli over one connection, in order (so MULTI … EXEC works); every line
   * of the answers, raw (a nil is an empty line).
   */
  cli(...commands: string[][]): Promise<string[]>;
  /** The head (last event number) this Redis holds for a Heliograph stream; -1 when it holds none. */
  streamHead(streamId: string): Promise<number>;
}

/**
 * True when the suites run on a Redis Cluster (`HELIOGRAPH_TEST_REDIS=cluster`, as `pnpm test`'s
 * second pass does): `startRedisServer` then starts a cluster, and the tests that need one
 * server's process (a restart, a snapshot, FLUSHALL) skip.
 */
export const testsOnRedisCluster = process.env.HELIOGRAPH_TEST_REDIS === "cluster";

/**
 * Starts `redis-server` with AOF on (fsync every second) on a free loopback port in a temp folder,
 * or uses `REDIS_URL` when it is set. With `testsOnRedisCluster` and neither port nor folder asked
 * for: a Redis Cluster (3 masters, 3 replicas; `startRedisCluster`) whose `url` is its seed list.
 */
export async function startRedisServer(
  options: { port?: number; dir?: string; reuseEnv?: boolean; ownProcessGroup?: boolean } = {},
): Promise<RedisServerHandle> {
  if (options.reuseEnv !== false && process.env.REDIS_URL) {
    const url = process.env.REDIS_URL;
    return unownedRedisServer(unownedServer(url, Number(new URL(url.split(",")[0] ?? url).port), "REDIS_URL is set"));
  }
  if (testsOnRedisCluster && options.port === undefined && options.dir === undefined) {
    return clusterAsRedisServer(await startRedisCluster());
  }
  const binary = which("redis-server");
  if (!binary && dockerEngineRuns()) {
    const server = await startContainerServer("redis");
    return unownedRedisServer(unownedServer(server.url, server.port, "a container", server.stop));
  }
  if (!binary)
    throw new Error("redis-server is not on the PATH: install it (apt-get install redis-server) or set REDIS_URL");
  const port = options.port ?? (await freePort());
  const dir = options.dir ?? tempDataDir("hg-redis-");
  const server = await ownedServer("redis-server", `redis://127.0.0.1:${port}`, port, {
    binary,
    args: [
      ["--bind", "127.0.0.1"],
      ["--port", String(port)],
      ["--dir", dir],
      ["--appendonly", "yes"],
      ["--appendfsync", "everysec"],
      ["--save", ""],
      ["--daemonize", "no"],
      ["--protected-mode", "no"],
    ].flat(),
    ownProcessGroup: options.ownProcessGroup,
  });
  return Object.assign(server, {
    dir,
    async snapshot() {
      const pid = server.process?.running() ? server.process.pid : undefined;
      if (pid === undefined) throw new Error("redis-server is not running: nothing to snapshot");
      const copy = tempDataDir("hg-redis-snapshot-");
      process.kill(pid, "SIGSTOP");
      try {
        cpSync(dir, copy, { recursive: true });
      } finally {
        process.kill(pid, "SIGCONT");
      }
      return copy;
    },
    async restartFrom(snapshot: string | "empty") {
      await server.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      if (snapshot !== "empty") cpSync(snapshot, dir, { recursive: true });
      await server.restart();
    },
    cli: (...commands: string[][]) => redisCli(server.url, commands),
    streamHead: (streamId: string) => streamHead(server.url, streamId),
  });
}

/**
 * A throwaway redis-server on a copy of `snapshot`, on a free port: what the snapshot holds,
 * read without touching the server it was taken from. Stop it when done.
 */
export async function openRedisSnapshot(snapshot: string): Promise<RedisServerHandle> {
  if (readdirSync(snapshot).length === 0) throw new Error(`${snapshot} is empty`);
  const dir = tempDataDir("hg-redis-snapshot-read-");
  cpSync(snapshot, dir, { recursive: true });
  return startRedisServer({ dir, reuseEnv: false });
}

/**
 * A harness-owned Redis Cluster behind the one-server handle: stop, kill and restart act on every
 * node (a restarted node rejoins from its nodes.conf and AOF); snapshots are of one server only.
 */
function clusterAsRedisServer(cluster: RedisClusterHandle): RedisServerHandle {
  const first = cluster.nodes[0];
  if (!first) throw new Error("the Redis Cluster has no node");
  const handle = unownedRedisServer(unownedServer(cluster.url, first.port, "a Redis Cluster"));
  return {
    ...handle,
    stop: () => cluster.stop(),
    async kill(signal = "SIGKILL") {
      await Promise.all(cluster.nodes.map((n) => n.kill(signal)));
    },
    async restart() {
      await Promise.all(cluster.nodes.map((n) => (n.process?.running() ? undefined : n.restart())));
      await cluster.waitHealthy();
    },
  };
}

/** A Redis the harness does not own (REDIS_URL, a container, a given URL): redis-cli works, snapshots do not. */
export function unownedRedisServer(server: ServerHandle): RedisServerHandle {
  const unsupported = async (): Promise<never> => {
    throw new Error("the harness does not own this Redis: it cannot snapshot or restore it");
  };
  return {
    ...server,
    dir: "",
    snapshot: unsupported,
    restartFrom: unsupported,
    cli: (...c) => redisCli(server.url, c),
    streamHead: (streamId) => streamHead(server.url, streamId),
  };
}

async function streamHead(url: string, streamId: string): Promise<number> {
  const [head] = await redisCli(url, [["GET", streamKeys(streamId).head]]);
  return head ? Number(head) : -1;
}

function redisCli(url: string, commands: string[][]): Promise<string[]> {
  const binary = which("redis-cli");
  // A cluster's seed list: ask its first node, following MOVED to the node serving each key.
  const seeds = url.split(",");
  const args = seeds.length > 1 ? ["-c", "-u", seeds[0] as string] : ["-u", url];
  if (!binary) return Promise.reject(new Error("redis-cli is not on the PATH (it comes with redis-server)"));
  // One line per command on stdin: redis-cli splits it as its prompt would (quotes for spaces).
  const input = commands.map((args) => args.map((a) => JSON.stringify(a)).join(" ")).join("\n");
  return new Promise((resolve, reject) => {
    const child = execFile(binary, args, { timeout: 10_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`redis-cli ${input}: ${err.message} ${stderr}`));
      else
        resolve(
          stdout
            .replace(/\n$/, "")
            .split("\n")
            .map((line) => line.replace(/\r$/, "")),
        );
    });
    child.stdin?.end(`${input}\n`);
  });
}

/**
 * FLUSHALL on every master (one server: that server): Redis losing everything without a
 * reconnect. A cluster client's own FLUSHALL would reach one node only.
 */
export async function flushAllRedis(redis: Redis): Promise<void> {
  if (isRedisCluster(redis)) await Promise.all(redis.nodes("master").map((node) => node.flushall()));
  else await redis.flushall();
}

/** KEYS on every master (one server: that server), for tests that look for keys by pattern. */
export async function keysOnEveryNode(redis: Redis, pattern: string): Promise<string[]> {
  if (!isRedisCluster(redis)) return redis.keys(pattern);
  return (await Promise.all(redis.nodes("master").map((node) => node.keys(pattern)))).flat();
}
