import { execFile } from "node:child_process";
import { cpSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { streamKeys } from "@heliograph/store";
import { dockerEngineRuns, startContainerServer } from "./containers.js";
import { freePort } from "./free-port.js";
import { which } from "./process.js";
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
 * Starts `redis-server` with AOF on (fsync every second) on a free loopback port in a temp folder,
 * or uses `REDIS_URL` when it is set.
 */
export async function startRedisServer(
  options: { port?: number; dir?: string; reuseEnv?: boolean; ownProcessGroup?: boolean } = {},
): Promise<RedisServerHandle> {
  if (options.reuseEnv !== false && process.env.REDIS_URL) {
    const url = process.env.REDIS_URL;
    return unownedRedisServer(unownedServer(url, Number(new URL(url).port), "REDIS_URL is set"));
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
  if (!binary) return Promise.reject(new Error("redis-cli is not on the PATH (it comes with redis-server)"));
  // One line per command on stdin: redis-cli splits it as its prompt would (quotes for spaces).
  const input = commands.map((args) => args.map((a) => JSON.stringify(a)).join(" ")).join("\n");
  return new Promise((resolve, reject) => {
    const child = execFile(binary, ["-u", url], { timeout: 10_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`redis-cli ${input}: ${err.message} ${stderr}`));
      else resolve(stdout.replace(/\n$/, "").split("\n"));
    });
    child.stdin?.end(`${input}\n`);
  });
}
